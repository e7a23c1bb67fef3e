// The metrics of chunks kept in an object store: its requests, bytes, retries and failures, the
// read cache, the segments staged and not yet uploaded, and failed uploads. Read from the object
// device's stats on each scrape, like the store gauges; registered only when chunks live in an
// object store, so that a system with local chunks shows no empty object store series.

import type { Registry } from "prom-client";
import type { ObjectDeviceStats } from "../objects/object-segment-device.js";
import type { ChunkBackendView } from "./api-context.js";
import { counter, gauge, type Sample } from "./sampled-metrics.js";

type Stats = ObjectDeviceStats;

/** Object store requests by operation, and the bytes of those that carry them. */
const REQUESTS: readonly [op: string, read: (stats: Stats) => number][] = [
  ["put", (stats) => stats.puts],
  ["get", (stats) => stats.gets],
  ["delete", (stats) => stats.deletes],
  ["list", (stats) => stats.lists],
];
const BYTES: readonly [op: string, read: (stats: Stats) => number][] = [
  ["put", (stats) => stats.putBytes],
  ["get", (stats) => stats.getBytes],
];

const COUNTERS: readonly [name: string, help: string, read: (stats: Stats) => number][] = [
  [
    "gsnap_object_store_retries_total",
    "Object store attempts beyond the first (throttling, 5xx, timeouts, dropped connections)",
    (stats) => stats.retries,
  ],
  [
    "gsnap_object_store_failures_total",
    "Object store requests that failed for good, after their retries",
    (stats) => stats.failures,
  ],
  [
    "gsnap_chunk_cache_hits_total",
    "Reads of object store chunks found in the read cache",
    (stats) => stats.cacheHits,
  ],
  [
    "gsnap_chunk_cache_misses_total",
    "Reads of object store chunks that had to fetch from the object store",
    (stats) => stats.cacheMisses,
  ],
  [
    "gsnap_chunk_cache_evictions_total",
    "Blocks dropped from the read cache to make room",
    (stats) => stats.cacheEvictions,
  ],
  [
    "gsnap_object_uploads_failed_total",
    "Segment uploads that failed (each is tried again; its chunks stay in staging until then)",
    (stats) => stats.uploadFailures,
  ],
];

const GAUGES: readonly [name: string, help: string, read: (stats: Stats) => number][] = [
  [
    "gsnap_chunk_cache_bytes",
    "Bytes in the read cache of object store chunks",
    (s) => s.cacheBytes,
  ],
  [
    "gsnap_chunks_staged_segments",
    "Segments in the local staging dir not yet in the object store",
    (stats) => stats.stagedSegments,
  ],
  [
    "gsnap_chunks_staged_bytes",
    "Bytes of the segments in the local staging dir not yet in the object store",
    (stats) => stats.stagedBytes,
  ],
];

/** Registers the object store metrics in `registry` when `chunks` keeps them in an object store. */
export function registerChunkMetrics(registry: Registry, chunks: ChunkBackendView): void {
  if (chunks.kind === "local") return;
  // Before the device has opened there are no stats, and so no samples.
  const byOp = (reads: typeof REQUESTS) => (): Sample<"op">[] => {
    const stats = chunks.stats();
    return stats === undefined ? [] : reads.map(([op, read]) => [{ op }, read(stats)]);
  };
  const one = (read: (stats: Stats) => number) => (): Sample<never>[] => {
    const stats = chunks.stats();
    return stats === undefined ? [] : [[{}, read(stats)]];
  };
  counter(registry, {
    name: "gsnap_object_store_requests_total",
    help: "Object store requests that succeeded, by operation (a list counts each page)",
    labelNames: ["op"],
    samples: byOp(REQUESTS),
  });
  counter(registry, {
    name: "gsnap_object_store_bytes_total",
    help: "Bytes sent to (put) and received from (get) the object store",
    labelNames: ["op"],
    samples: byOp(BYTES),
  });
  for (const [name, help, read] of COUNTERS) {
    counter(registry, { name, help, labelNames: [], samples: one(read) });
  }
  for (const [name, help, read] of GAUGES) {
    gauge(registry, { name, help, labelNames: [], samples: one(read) });
  }
}
