import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis, storeState, TRACK_SIZE_BYTES } from "../testing/api-harness.js";
import { examplePair } from "../testing/memory-pairs.js";

afterEach(stopApis);

describe("volume routes", () => {
  it("GET /v1/volumes lists every volume with its geometry", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v1/volumes");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(api.store.listVolumes());
    expect(reply.body[0]).toMatchObject({ volser: "VOL001", ssid: "01A0", trackCount: 150 });
  });

  it("POST /v1/volumes creates a volume in the first subsystem by default and answers 201", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/volumes", { json: { volser: "NEW001" } });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({
      volser: "NEW001",
      ssid: "01A0",
      model: "3390-3",
      cylinders: 3_339,
      heads: 15,
      trackSizeBytes: TRACK_SIZE_BYTES,
      readOnly: false,
    });
    expect(api.store.showVolume("NEW001")).toMatchObject(reply.body);
  });

  it("POST /v1/volumes takes a subsystem, model, cylinders and track size", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/volumes", {
      json: { volser: "NEW#1", ssid: "01a1", model: "3390-A", cylinders: 20, trackSizeBytes: 4096 },
    });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({
      volser: "NEW#1",
      ssid: "01A1",
      model: "3390-A",
      cylinders: 20,
      trackCount: 300,
      sizeBytes: 300 * 4096,
    });
  });

  it("GET /v1/volumes/:volser shows the allocated tracks and bytes", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v1/volumes/VOL001");
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      volser: "VOL001",
      allocatedTracks: 3,
      allocatedBytes: 3 * TRACK_SIZE_BYTES,
    });
  });

  it("DELETE /v1/volumes/:volser deletes the volume and answers 204", async () => {
    const api = await startApi();
    const reply = await api.call("DELETE", "/v1/volumes/VOL001");
    expect(reply.status).toBe(204);
    expect(reply.text).toBe("");
    expect(api.store.listVolumes().map((volume) => volume.volser)).toEqual(["VOL002"]);
    const again = await api.call("GET", "/v1/volumes/VOL001");
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("VOLUME_NOT_FOUND");
  });
});

describe("volume routes refuse bad requests and change nothing", () => {
  const bodies: [string, unknown, number, string, RegExp][] = [
    ["a missing volser", { cylinders: 10 }, 400, "REQUEST_INVALID", /body\.volser is required/],
    ["an extra property", { volser: "NEW001", size: 1 }, 400, "REQUEST_INVALID", /"size"/],
    ["a numeric volser", { volser: 123 }, 400, "REQUEST_INVALID", /body\.volser must be string/],
    [
      "cylinders as a string",
      { volser: "NEW001", cylinders: "10" },
      400,
      "REQUEST_INVALID",
      /body\.cylinders must be integer/,
    ],
    [
      "fractional cylinders",
      { volser: "NEW001", cylinders: 1.5 },
      400,
      "REQUEST_INVALID",
      /body\.cylinders must be integer/,
    ],
    [
      "a null model",
      { volser: "NEW001", model: null },
      400,
      "REQUEST_INVALID",
      /body\.model must be string/,
    ],
    ["an array body", [{ volser: "NEW001" }], 400, "REQUEST_INVALID", /body must be object/],
    ["a lower-case VOLSER", { volser: "new001" }, 400, "VOLSER_INVALID", /"new001"/],
    ["a VOLSER of 7 characters", { volser: "VOL0001" }, 400, "VOLSER_INVALID", /1 to 6 characters/],
    ["an empty VOLSER", { volser: "" }, 400, "VOLSER_INVALID", /VOLSER ""/],
    ["an unknown model", { volser: "NEW001", model: "3380-K" }, 400, "MODEL_UNKNOWN", /"3380-K"/],
    [
      "an SSID that is not hex",
      { volser: "NEW001", ssid: "XYZ1" },
      400,
      "SSID_INVALID",
      /4 hex digits/,
    ],
    [
      "an SSID the system lacks",
      { volser: "NEW001", ssid: "0002" },
      400,
      "SSID_INVALID",
      /subsystems are 01A0, 01A1/,
    ],
    [
      "a cylinder count past the EAV limit",
      { volser: "NEW001", cylinders: 2_000_000 },
      400,
      "CYLINDERS_INVALID",
      /2000000/,
    ],
    [
      "a track size off 4 KiB",
      { volser: "NEW001", trackSizeBytes: 1000 },
      400,
      "TRACK_SIZE_INVALID",
      /1000/,
    ],
    ["an existing VOLSER", { volser: "VOL001", cylinders: 1 }, 409, "VOLUME_EXISTS", /"VOL001"/],
  ];

  it.each(bodies)("POST /v1/volumes with %s", async (_name, json, status, code, message) => {
    const api = await startApi();
    const before = storeState(api.store);
    const reply = await api.call("POST", "/v1/volumes", { json });
    expect(reply.status, reply.text).toBe(status);
    expect(reply.body.code).toBe(code);
    expect(reply.body.message).toMatch(/^Cannot .+: ./);
    expect(reply.body.message).toMatch(message);
    expect(Object.keys(reply.body)).toEqual(["code", "message"]);
    expect(storeState(api.store)).toEqual(before);
  });

  const paths: [string, string, string, number, string][] = [
    ["GET", "an unknown volume", "/v1/volumes/NOPE", 404, "VOLUME_NOT_FOUND"],
    ["DELETE", "an unknown volume", "/v1/volumes/NOPE", 404, "VOLUME_NOT_FOUND"],
    ["GET", "a bad VOLSER", "/v1/volumes/vol001", 400, "VOLSER_INVALID"],
    ["DELETE", "a bad VOLSER", "/v1/volumes/TOOLONG1", 400, "VOLSER_INVALID"],
    ["GET", "a query parameter", "/v1/volumes/VOL001?all=1", 400, "REQUEST_INVALID"],
    ["DELETE", "a badly encoded VOLSER", "/v1/volumes/%E0%A4%A", 400, "REQUEST_INVALID"],
  ];

  it.each(paths)("%s /v1/volumes/:volser with %s", async (method, _name, path, status, code) => {
    const api = await startApi();
    const before = storeState(api.store);
    const reply = await api.call(method, path);
    expect(reply.status, reply.text).toBe(status);
    expect(reply.body.code).toBe(code);
    expect(storeState(api.store)).toEqual(before);
  });

  it("names the configured subsystems when the SSID is not one of them", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/volumes", {
      json: { volser: "NEW001", ssid: "0002" },
    });
    expect(reply.body.message).toBe(
      `Cannot create volume "NEW001" in subsystem "0002": this system's subsystems are 01A0, 01A1`,
    );
  });
});

describe("DELETE /v1/volumes/:volser of a paired volume", () => {
  it("is refused with 409 PAIR_EXISTS until the pair is terminated", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001"));
    const before = storeState(api.store);
    const reply = await api.call("DELETE", "/v1/volumes/VOL001");
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe("PAIR_EXISTS");
    expect(reply.body.message).toBe(
      'Cannot delete volume "VOL001": volume "VOL001" is the primary of a pair with ' +
        "GS0002.01B0.VOL001; terminate the pair first (gsnap pair terminate VOL001)",
    );
    expect(storeState(api.store)).toEqual(before);
    await api.pairs.terminate("VOL001");
    expect((await api.call("DELETE", "/v1/volumes/VOL001")).status).toBe(204);
  });
});
