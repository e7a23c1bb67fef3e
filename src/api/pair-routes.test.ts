import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis } from "../testing/api-harness.js";
import { examplePair } from "../testing/memory-pairs.js";

afterEach(stopApis);

const ESTABLISH = { volser: "VOL001", secondary: "GS0002.01B0.VOL900", mode: "sync" };

describe("pair routes", () => {
  it("establish a pair with 201 as pending, then list and show it", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/pairs", { json: ESTABLISH });
    expect(reply.status, reply.text).toBe(201);
    const pair = {
      volser: "VOL001",
      role: "primary",
      primary: "GS0001.01A0.VOL001",
      secondary: "GS0002.01B0.VOL900",
      mode: "sync",
      critical: false,
      state: "pending",
      tracksTotal: 150,
      tracksOutOfSync: 150,
      bytesSent: 0,
      rateBytesPerSecond: 0,
      etaSeconds: null,
    };
    expect(reply.body).toMatchObject(pair);
    expect(reply.body.reason).toBeUndefined();
    expect((await api.call("GET", "/v1/pairs")).body).toEqual([reply.body]);
    expect((await api.call("GET", "/v1/pairs/VOL001")).body).toEqual(reply.body);
  });

  it("show a secondary's pair with its unknown backlog and a suspension's reason", async () => {
    const api = await startApi();
    const secondary = examplePair("VOL002", {
      role: "secondary",
      state: "suspended",
      reason: "link failure",
      tracksOutOfSync: null,
      etaSeconds: null,
    });
    api.pairs.setPair(secondary);
    const reply = await api.call("GET", "/v1/pairs/VOL002");
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toEqual(secondary);
  });

  it("suspend an active pair for the operator, then resume it", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001", { tracksOutOfSync: 0 }));
    const suspended = await api.call("POST", "/v1/pairs/VOL001/suspend");
    expect(suspended.status, suspended.text).toBe(200);
    expect(suspended.body).toMatchObject({ state: "suspended", reason: "operator" });
    const resumed = await api.call("POST", "/v1/pairs/VOL001/resume");
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.state).toBe("duplex");
    expect(resumed.body.reason).toBeUndefined();
  });

  it("terminate a pair with 204, then refuse to terminate it again with PAIR_NOT_FOUND", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001"));
    expect((await api.call("DELETE", "/v1/pairs/VOL001")).status).toBe(204);
    expect((await api.call("GET", "/v1/pairs")).body).toEqual([]);
    const again = await api.call("DELETE", "/v1/pairs/VOL001");
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("PAIR_NOT_FOUND");
    expect(again.body.message).toBe(
      'Cannot terminate the pair of volume "VOL001": the volume is in no pair',
    );
  });

  it.each([
    [{ ...ESTABLISH, volser: "NEW001" }, 404, "VOLUME_NOT_FOUND"],
    [{ ...ESTABLISH, volser: "vol001" }, 400, "VOLSER_INVALID"],
    [{ ...ESTABLISH, secondary: "GS0002.01B0.vol900" }, 400, "VOLSER_INVALID"],
    [{ ...ESTABLISH, secondary: "gs0002.01B0.VOL900" }, 400, "SERIAL_INVALID"],
    [{ ...ESTABLISH, secondary: "GS0002.1B0.VOL900" }, 400, "SSID_INVALID"],
    [{ ...ESTABLISH, secondary: "GS0002.VOL900" }, 400, "REQUEST_INVALID"],
    [{ ...ESTABLISH, mode: "copy", critical: true }, 400, "REQUEST_INVALID"],
    [{ ...ESTABLISH, mode: "async" }, 400, "REQUEST_INVALID"],
    [{ ...ESTABLISH, critical: "yes" }, 400, "REQUEST_INVALID"],
    [{ ...ESTABLISH, extra: 1 }, 400, "REQUEST_INVALID"],
    [{ volser: "VOL001", secondary: "GS0002.01B0.VOL900" }, 400, "REQUEST_INVALID"],
  ])("refuse establishing %j with %i %s", async (json, status, code) => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/pairs", { json });
    expect(reply.status, reply.text).toBe(status);
    expect(reply.body.code).toBe(code);
    expect(reply.body.message).toMatch(/^Cannot /);
    expect(api.pairs.list()).toEqual([]);
  });

  it("refuse establishing a pair of a volume in a pair with 409 PAIR_EXISTS", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001", { role: "secondary" }));
    const reply = await api.call("POST", "/v1/pairs", { json: ESTABLISH });
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe("PAIR_EXISTS");
    expect(reply.body.message).toMatch(/already the secondary of a pair; terminate that pair/);
  });

  it.each([
    ["suspend", examplePair("VOL001", { state: "suspended", reason: "operator" }), /suspended$/],
    ["suspend", examplePair("VOL001", { role: "secondary" }), /secondary; suspend it on/],
    ["resume", examplePair("VOL001"), /it is duplex, not suspended$/],
    ["resume", examplePair("VOL001", { state: "pending" }), /it is pending, not suspended$/],
    [
      "resume",
      examplePair("VOL001", { role: "secondary", state: "suspended", reason: "link failure" }),
      /secondary; resume it on the primary, GS0001.01A0.VOL001$/,
    ],
  ])(
    "refuse to %s a pair in the wrong state or role with 409 PAIR_STATE_INVALID",
    async (verb, pair, message) => {
      const api = await startApi();
      api.pairs.setPair(pair);
      const reply = await api.call("POST", `/v1/pairs/VOL001/${verb}`);
      expect(reply.status, reply.text).toBe(409);
      expect(reply.body.code).toBe("PAIR_STATE_INVALID");
      expect(reply.body.message).toMatch(
        new RegExp(`^Cannot ${verb} the pair of volume "VOL001": `),
      );
      expect(reply.body.message).toMatch(message);
      expect(api.pairs.show("VOL001")).toEqual(pair);
    },
  );

  it.each([
    ["GET", "/v1/pairs/VOL001"],
    ["POST", "/v1/pairs/VOL001/suspend"],
    ["POST", "/v1/pairs/VOL001/resume"],
    ["DELETE", "/v1/pairs/VOL001"],
  ])("refuse %s %s of an unpaired volume with 404 PAIR_NOT_FOUND", async (method, path) => {
    const api = await startApi();
    const reply = await api.call(method, path);
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe("PAIR_NOT_FOUND");
    expect(reply.body.message).toMatch(/^Cannot .+ "VOL001": the volume is in no pair$/);
  });

  it.each([
    ["GET", "/v1/pairs/vol001"],
    ["POST", "/v1/pairs/TOOLONG1/suspend"],
    ["POST", "/v1/pairs/VOL%2A/resume"],
    ["DELETE", "/v1/pairs/vol001"],
  ])("refuse %s %s with 400 VOLSER_INVALID", async (method, path) => {
    const api = await startApi();
    const reply = await api.call(method, path);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("VOLSER_INVALID");
  });

  it("refuse a body on suspend, resume and terminate with REQUEST_INVALID", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001"));
    for (const [method, path] of [
      ["POST", "/v1/pairs/VOL001/suspend"],
      ["POST", "/v1/pairs/VOL001/resume"],
      ["DELETE", "/v1/pairs/VOL001"],
    ]) {
      const reply = await api.call(method, path, { json: { force: true } });
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe("REQUEST_INVALID");
      expect(reply.body.message).toMatch(/^Cannot .+ a pair: this route takes no body/);
    }
    expect(api.pairs.show("VOL001")).toEqual(examplePair("VOL001"));
  });

  it("answer PATHS_UNAVAILABLE when the API has no pairs", async () => {
    const api = await startApi({ withoutPaths: true });
    for (const [method, path, json] of [
      ["GET", "/v1/pairs", undefined],
      ["GET", "/v1/pairs/VOL001", undefined],
      ["POST", "/v1/pairs", ESTABLISH],
      ["POST", "/v1/pairs/VOL001/suspend", undefined],
      ["POST", "/v1/pairs/VOL001/resume", undefined],
      ["DELETE", "/v1/pairs/VOL001", undefined],
    ] as const) {
      const reply = await api.call(method, path, { json });
      expect(reply.status).toBe(503);
      expect(reply.body.code).toBe("PATHS_UNAVAILABLE");
      expect(reply.body.message).toMatch(
        /^Cannot .+ pairs?: this API was started without replication pairs$/,
      );
    }
  });

  it("describe the pair routes and their schemas in /openapi.json", async () => {
    const api = await startApi();
    const { paths } = (await api.call("GET", "/openapi.json")).body;
    const body = paths["/v1/pairs"].post.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["volser", "secondary", "mode"]);
    expect(body.additionalProperties).toBe(false);
    const pair = paths["/v1/pairs/{volser}"].get.responses["200"].content["application/json"];
    expect(pair.schema.properties.state.enum).toEqual([
      "simplex",
      "pending",
      "duplex",
      "suspended",
    ]);
    expect(Object.keys(paths["/v1/pairs/{volser}/resume"].post.responses)).toContain("200");
    expect(Object.keys(paths["/v1/pairs/{volser}"].delete.responses)).toContain("204");
  });
});
