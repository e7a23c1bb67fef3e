import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis, TRACK_SIZE_BYTES } from "../testing/api-harness.js";

afterEach(stopApis);

describe("store routes", () => {
  it("GET /v1/stats shows each volume's allocation and the store's usage", async () => {
    const api = await startApi();
    await api.call("POST", "/v1/snap", { json: { source: "VOL001:0.0-0.14", target: "VOL002" } });
    const reply = await api.call("GET", "/v1/stats");
    expect(reply.status).toBe(200);
    const volume = (volser: string, allocatedTracks: number) => ({
      volser,
      trackCount: 150,
      sizeBytes: 150 * TRACK_SIZE_BYTES,
      allocatedTracks,
      allocatedBytes: allocatedTracks * TRACK_SIZE_BYTES,
    });
    expect(reply.body).toEqual({
      volumes: [volume("VOL001", 3), volume("VOL002", 3)],
      store: api.store.usage(),
    });
  });

  it("GET /v1/stats shows a snap costing no segment bytes", async () => {
    const api = await startApi();
    const before = (await api.call("GET", "/v1/stats")).body.store;
    await api.call("POST", "/v1/snap", { json: { source: "VOL001:0.0-9.14", target: "VOL002" } });
    const after = (await api.call("GET", "/v1/stats")).body.store;
    expect(after.segmentBytes).toBe(before.segmentBytes);
  });

  it("POST /v1/fsck reports a sound store as ok with its counts", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/fsck");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      ok: true,
      problems: [],
      volumes: 2,
      nodes: expect.any(Number),
      orphans: 0,
      chunks: 3,
      segments: expect.any(Number),
      checkedBytes: 3 * TRACK_SIZE_BYTES,
    });
  });

  it("POST /v1/fsck reports a corrupt chunk as a problem, with 200: the report is the answer", async () => {
    const api = await startApi();
    await api.store.flush();
    const segments = path.join(api.store.dataDir, "segments");
    const [file] = fs
      .readdirSync(segments)
      .filter((name) => fs.statSync(path.join(segments, name)).size > 0);
    const fd = fs.openSync(path.join(segments, file), "r+");
    const last = fs.fstatSync(fd).size - 1;
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, last);
    byte[0] ^= 0xff;
    fs.writeSync(fd, byte, 0, 1, last);
    fs.closeSync(fd);
    const reply = await api.call("POST", "/v1/fsck");
    expect(reply.status).toBe(200);
    expect(reply.body.ok).toBe(false);
    expect(reply.body.problems.join("\n")).toMatch(/checksum/);
  });
});
