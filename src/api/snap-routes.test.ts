import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis, storeState, TRACK_SIZE_BYTES } from "../testing/api-harness.js";
import { examplePair } from "../testing/memory-pairs.js";

afterEach(stopApis);

describe("POST /v1/snap", () => {
  it("snaps an extent to the same addresses on the target volume", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/snap", {
      json: { source: "VOL001:0.0-0.14", target: "VOL002" },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ source: "VOL001:0.0-0.14", target: "VOL002", tracks: 15 });
    expect(api.store.showVolume("VOL002").allocatedTracks).toBe(3);
    const range = { offsetBytes: 0, lengthBytes: 3 * TRACK_SIZE_BYTES };
    expect(await api.store.read("VOL002", range)).toEqual(await api.store.read("VOL001", range));
  });

  it("snaps extents onto target extents elsewhere and answers them normalized", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/snap", {
      json: { source: " VOL001:0.0-0.1+0.2-0.14 ", target: "VOL002:5.0-5.14" },
    });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toEqual({
      source: "VOL001:0.0-0.1+0.2-0.14",
      target: "VOL002:5.0-5.14",
      tracks: 15,
    });
    const read = (volser: string, track: number) =>
      api.store.read(volser, {
        offsetBytes: track * TRACK_SIZE_BYTES,
        lengthBytes: TRACK_SIZE_BYTES,
      });
    expect(await read("VOL002", 75)).toEqual(await read("VOL001", 0));
    expect(api.store.showVolume("VOL002").allocatedTracks).toBe(3);
  });
});

describe("POST /v1/snap refuses bad requests and changes nothing", () => {
  const cases: [string, unknown, number, string][] = [
    ["a source without extents", { source: "VOL001", target: "VOL002" }, 400, "REQUEST_INVALID"],
    [
      "extents of different sizes",
      { source: "VOL001:0.0-0.14", target: "VOL002:5.0-5.5" },
      400,
      "EXTENT_SIZE_MISMATCH",
    ],
    [
      "an unknown source volume",
      { source: "NOPE:0.0-0.14", target: "VOL002" },
      404,
      "VOLUME_NOT_FOUND",
    ],
    [
      "an unknown target volume",
      { source: "VOL001:0.0-0.14", target: "NOPE" },
      404,
      "VOLUME_NOT_FOUND",
    ],
    [
      "overlapping target extents",
      { source: "VOL001:0.0-1.14", target: "VOL002:5.0-5.14+5.5-6.4" },
      400,
      "EXTENTS_OVERLAP",
    ],
    [
      "a self-snap onto itself",
      { source: "VOL001:0.0-1.14", target: "VOL001:1.0-2.14" },
      400,
      "EXTENTS_OVERLAP",
    ],
    ["a malformed extent", { source: "VOL001:0.0-", target: "VOL002" }, 400, "ADDRESS_MALFORMED"],
    [
      "an extent without a dash",
      { source: "VOL001:0.0", target: "VOL002" },
      400,
      "EXTENT_MALFORMED",
    ],
    ["a head past 14", { source: "VOL001:0.0-0.15", target: "VOL002" }, 400, "HEAD_OUT_OF_RANGE"],
    ["a reversed extent", { source: "VOL001:5.0-0.0", target: "VOL002" }, 400, "EXTENT_REVERSED"],
    [
      "a cylinder past the volume",
      { source: "VOL001:0.0-99.14", target: "VOL002" },
      400,
      "CYLINDER_OUT_OF_RANGE",
    ],
    [
      "33 extents",
      { source: `VOL001:${Array(33).fill("0.0-0.0").join("+")}`, target: "VOL002" },
      400,
      "EXTENT_LIST_TOO_LONG",
    ],
    ["a bad source VOLSER", { source: "vol001:0.0-0.14", target: "VOL002" }, 400, "VOLSER_INVALID"],
    ["a bad target VOLSER", { source: "VOL001:0.0-0.14", target: "VOL-02" }, 400, "VOLSER_INVALID"],
    ["a missing target", { source: "VOL001:0.0-0.14" }, 400, "REQUEST_INVALID"],
    [
      "an extra property",
      { source: "VOL001:0.0-0.14", target: "VOL002", mode: "copy" },
      400,
      "REQUEST_INVALID",
    ],
    ["a source object", { source: { volser: "VOL001" }, target: "VOL002" }, 400, "REQUEST_INVALID"],
    ["a null body", null, 400, "REQUEST_INVALID"],
  ];

  it.each(cases)("with %s", async (_name, json, status, code) => {
    const api = await startApi();
    const before = storeState(api.store);
    const reply = await api.call("POST", "/v1/snap", { json });
    expect(reply.status, reply.text).toBe(status);
    expect(reply.body.code).toBe(code);
    expect(reply.body.message).toMatch(/^Cannot .+: ./);
    expect(storeState(api.store)).toEqual(before);
  });

  it("with a read-only target", async () => {
    const api = await startApi();
    await api.store.setReadOnly("VOL002", true);
    const before = storeState(api.store);
    const reply = await api.call("POST", "/v1/snap", {
      json: { source: "VOL001:0.0-0.14", target: "VOL002" },
    });
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe("VOLUME_READ_ONLY");
    expect(storeState(api.store)).toEqual(before);
  });

  it("with volumes of different track sizes", async () => {
    const api = await startApi();
    await api.store.createVolume({
      volser: "SMALL",
      ssid: "01A0",
      cylinders: 10,
      trackSizeBytes: 4096,
    });
    const reply = await api.call("POST", "/v1/snap", {
      json: { source: "VOL001:0.0-0.14", target: "SMALL" },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("TRACK_SIZE_MISMATCH");
  });

  it("names the sizes when the extents differ", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/snap", {
      json: { source: "VOL001:0.0-0.14", target: "VOL002:5.0-5.5" },
    });
    expect(reply.body.message).toMatch(/15 tracks/);
    expect(reply.body.message).toMatch(/ 6$/);
  });
});

describe("POST /v1/snap with paired volumes", () => {
  it("refuses to snap into a paired volume with 409 PAIR_EXISTS and changes nothing", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL002", { role: "secondary" }));
    const before = storeState(api.store);
    const reply = await api.call("POST", "/v1/snap", {
      json: { source: "VOL001:0.0-0.14", target: "VOL002" },
    });
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe("PAIR_EXISTS");
    expect(reply.body.message).toBe(
      'Cannot snap VOL001:0.0-0.14 to VOL002: volume "VOL002" is the secondary of a pair with ' +
        "GS0001.01A0.VOL002; terminate the pair first (gsnap pair terminate VOL002)",
    );
    expect(storeState(api.store)).toEqual(before);
  });

  it("snaps from a paired volume", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001"));
    const reply = await api.call("POST", "/v1/snap", {
      json: { source: "VOL001:0.0-0.14", target: "VOL002" },
    });
    expect(reply.status, reply.text).toBe(200);
  });
});
