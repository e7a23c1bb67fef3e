import { afterEach, describe, expect, it } from "vitest";
import { SYSTEM, startApi, stopApis, TRACK_SIZE_BYTES } from "../testing/api-harness.js";

afterEach(stopApis);

describe("system routes", () => {
  it("GET /healthz says ok", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/healthz");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: "ok" });
  });

  it("GET /v1/system shows the identity, volume count, capacity and collector totals", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v1/system");
    expect(reply.status).toBe(200);
    const usage = api.store.usage();
    expect(reply.body).toEqual({
      serial: SYSTEM.serial,
      ssids: SYSTEM.ssids,
      version: SYSTEM.version,
      volumes: 2,
      capacity: { segmentBytes: usage.segmentBytes, liveBytes: usage.liveBytes },
      collector: { orphansReleased: 0, chunksMoved: 0, segmentsRemoved: 0 },
      chunks: { kind: "local" },
    });
    expect(reply.body.capacity.liveBytes).toBeGreaterThanOrEqual(3 * TRACK_SIZE_BYTES);
  });

  it("GET /v1/system and /metrics show chunks kept in an object store, without credentials", async () => {
    const stats = {
      puts: 2,
      putBytes: 2_097_152,
      gets: 5,
      getBytes: 1_048_576,
      deletes: 0,
      lists: 1,
      retries: 0,
      failures: 0,
      cacheHits: 4,
      cacheMisses: 5,
      cacheBytes: 1_048_576,
      cacheEvictions: 0,
      stagedSegments: 1,
      stagedBytes: 65_536,
      uploadFailures: 0,
    };
    const api = await startApi({
      chunks: {
        kind: "s3",
        url: "s3://gsnap-chunks/system1/",
        endpoint: "http://127.0.0.1:7480",
        stats: () => stats,
      },
    });
    const reply = await api.call("GET", "/v1/system");
    expect(reply.status).toBe(200);
    expect(reply.body.chunks).toEqual({
      kind: "s3",
      url: "s3://gsnap-chunks/system1/",
      endpoint: "http://127.0.0.1:7480",
      stagedSegments: 1,
      stagedBytes: 65_536,
      cacheBytes: 1_048_576,
    });
    const metrics = await api.call("GET", "/metrics");
    expect(metrics.text).toMatch(/^gsnap_chunks_staged_bytes 65536$/m);
    expect(metrics.text).toMatch(/^gsnap_object_store_requests_total\{op="get"\} 5$/m);
  });

  it("GET /v1/subsystems counts the volumes of each configured subsystem", async () => {
    const api = await startApi();
    await api.call("POST", "/v1/volumes", { json: { volser: "NEW001", ssid: "01a1" } });
    const reply = await api.call("GET", "/v1/subsystems");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual([
      { ssid: "01A0", volumes: 2 },
      { ssid: "01A1", volumes: 1 },
    ]);
  });

  it("GET /v1/subsystems also lists a subsystem that only an older volume still names", async () => {
    const api = await startApi();
    await api.store.createVolume({ volser: "OLD001", ssid: "0F00", cylinders: 1 });
    const reply = await api.call("GET", "/v1/subsystems");
    expect(reply.body).toContainEqual({ ssid: "0F00", volumes: 1 });
  });

  it("refuses a query parameter on a route that takes none", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v1/system?verbose=1");
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      code: "REQUEST_INVALID",
      message: 'Cannot show the system: querystring has unknown property "verbose"',
    });
  });
});
