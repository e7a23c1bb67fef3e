import { describe, expect, it } from "vitest";
import type { ObjectDeviceStats } from "../objects/object-segment-device.js";
import type { ChunkBackendView } from "./api-context.js";
import { ApiMetrics } from "./api-metrics.js";

const EXAMPLE_STATS: ObjectDeviceStats = {
  puts: 3,
  putBytes: 3_000_000,
  gets: 7,
  getBytes: 7_340_032,
  deletes: 1,
  lists: 2,
  retries: 4,
  failures: 1,
  cacheHits: 90,
  cacheMisses: 10,
  cacheBytes: 5_242_880,
  cacheEvictions: 6,
  stagedSegments: 1,
  stagedBytes: 123_456,
  uploadFailures: 2,
};

/** An S3 backend whose device reports `stats` (changed by the test between scrapes). */
function s3View(stats: { current: ObjectDeviceStats }): ChunkBackendView {
  return {
    kind: "s3",
    url: "s3://gsnap-chunks/system1/",
    endpoint: "http://127.0.0.1:7480",
    stats: () => stats.current,
  };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("chunk metrics", () => {
  it("read the object device's stats on each scrape", async () => {
    const stats = { current: EXAMPLE_STATS };
    const metrics = new ApiMetrics();
    metrics.watchChunks(s3View(stats));
    let text = await metrics.text();
    expect(sample(text, 'gsnap_object_store_requests_total{op="put"}')).toBe(3);
    expect(sample(text, 'gsnap_object_store_requests_total{op="get"}')).toBe(7);
    expect(sample(text, 'gsnap_object_store_requests_total{op="delete"}')).toBe(1);
    expect(sample(text, 'gsnap_object_store_requests_total{op="list"}')).toBe(2);
    expect(sample(text, 'gsnap_object_store_bytes_total{op="put"}')).toBe(3_000_000);
    expect(sample(text, 'gsnap_object_store_bytes_total{op="get"}')).toBe(7_340_032);
    expect(sample(text, "gsnap_object_store_retries_total")).toBe(4);
    expect(sample(text, "gsnap_object_store_failures_total")).toBe(1);
    expect(sample(text, "gsnap_chunk_cache_hits_total")).toBe(90);
    expect(sample(text, "gsnap_chunk_cache_misses_total")).toBe(10);
    expect(sample(text, "gsnap_chunk_cache_evictions_total")).toBe(6);
    expect(sample(text, "gsnap_chunk_cache_bytes")).toBe(5_242_880);
    expect(sample(text, "gsnap_chunks_staged_segments")).toBe(1);
    expect(sample(text, "gsnap_chunks_staged_bytes")).toBe(123_456);
    expect(sample(text, "gsnap_object_uploads_failed_total")).toBe(2);

    stats.current = { ...EXAMPLE_STATS, puts: 4, stagedSegments: 0, stagedBytes: 0 };
    text = await metrics.text();
    expect(sample(text, 'gsnap_object_store_requests_total{op="put"}')).toBe(4);
    expect(sample(text, "gsnap_chunks_staged_bytes")).toBe(0);
  });

  it("are not there when chunks are local", async () => {
    const metrics = new ApiMetrics();
    metrics.watchChunks({ kind: "local", stats: () => undefined });
    const text = await metrics.text();
    expect(text).not.toMatch(/gsnap_object_store|gsnap_chunk_cache|gsnap_chunks_staged/);
  });

  it("are not there before the device has opened, then follow it", async () => {
    let current: ObjectDeviceStats | undefined;
    const metrics = new ApiMetrics();
    metrics.watchChunks({ kind: "s3", url: "s3://b/", stats: () => current });
    expect(await metrics.text()).not.toMatch(/gsnap_object_store_requests_total\{/);
    current = EXAMPLE_STATS;
    expect(sample(await metrics.text(), "gsnap_chunks_staged_bytes")).toBe(123_456);
  });
});
