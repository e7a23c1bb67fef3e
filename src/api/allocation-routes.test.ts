import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis, TRACK_SIZE_BYTES } from "../testing/api-harness.js";

afterEach(stopApis);

const HEADS = 15;

describe("GET /v1/volumes/:volser/allocation", () => {
  it("gives each cylinder of a small volume a bucket with its mapped tracks", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v1/volumes/VOL001/allocation");
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toMatchObject({ volser: "VOL001", cylinders: 10, heads: HEADS });
    expect(reply.body.mappedTracks).toBe(3);
    expect(reply.body.buckets).toHaveLength(10);
    expect(reply.body.buckets[0]).toEqual({
      firstCylinder: 0,
      cylinderCount: 1,
      trackCount: HEADS,
      mappedTracks: 3,
    });
    expect(
      reply.body.buckets.slice(1).every((bucket: { mappedTracks: number }) => !bucket.mappedTracks),
    ).toBe(true);
  });

  it("keeps a 3390-54 to 512 buckets and finds a track written far in", async () => {
    const api = await startApi();
    await api.store.createVolume({ volser: "BIG054", ssid: "01A0", model: "3390-54" });
    const cylinder = 200;
    await api.store.write("BIG054", {
      offsetBytes: cylinder * HEADS * TRACK_SIZE_BYTES,
      data: Buffer.alloc(2 * TRACK_SIZE_BYTES, 1),
    });
    const reply = await api.call("GET", "/v1/volumes/BIG054/allocation");
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.cylinders).toBe(65_520);
    expect(reply.body.buckets).toHaveLength(512);
    expect(reply.body.mappedTracks).toBe(2);
    const holding = reply.body.buckets.filter(
      (bucket: { mappedTracks: number }) => bucket.mappedTracks,
    );
    expect(holding).toEqual([
      { firstCylinder: 128, cylinderCount: 128, trackCount: 128 * HEADS, mappedTracks: 2 },
    ]);
  });

  it("agrees with the allocated tracks of GET /v1/volumes/:volser", async () => {
    const api = await startApi();
    const allocation = await api.call("GET", "/v1/volumes/VOL001/allocation");
    const volume = await api.call("GET", "/v1/volumes/VOL001");
    expect(allocation.body.mappedTracks).toBe(volume.body.allocatedTracks);
  });

  it("is in the OpenAPI document", async () => {
    const api = await startApi();
    const { paths } = (await api.call("GET", "/openapi.json")).body;
    const route = paths["/v1/volumes/{volser}/allocation"].get;
    expect(route.responses["200"].content["application/json"].schema.required).toContain("buckets");
  });

  const refusals: [string, string, string | null | undefined, number, string][] = [
    ["no token", "/v1/volumes/VOL001/allocation", null, 401, "UNAUTHORIZED"],
    ["a wrong token", "/v1/volumes/VOL001/allocation", "wrong", 401, "UNAUTHORIZED"],
    ["an unknown volume", "/v1/volumes/NOPE/allocation", undefined, 404, "VOLUME_NOT_FOUND"],
    ["a bad VOLSER", "/v1/volumes/vol001/allocation", undefined, 400, "VOLSER_INVALID"],
    ["a query parameter", "/v1/volumes/VOL001/allocation?x=1", undefined, 400, "REQUEST_INVALID"],
  ];

  it.each(refusals)("refuses %s", async (_name, path, token, status, code) => {
    const api = await startApi();
    const reply = await api.call("GET", path, { token });
    expect(reply.status, reply.text).toBe(status);
    expect(reply.body.code).toBe(code);
    expect(reply.body.message).toMatch(/^Cannot .+: ./);
  });
});
