// The Prometheus metrics of one storage system, in a registry of their own (not prom-client's
// global one, so that two systems in one process, as in tests, do not mix). The NBD server's
// observer counts host requests through `request`; the store's gauges are read on each scrape, so
// they are never stale and cost nothing between scrapes; so are the replication metrics
// (replication-metrics.ts), the GSC job metrics (job-metrics.ts) and the data dir's free space
// (data-dir-metrics.ts).

import assert from "node:assert";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import {
  LISTENER_NAMES,
  type ListenerName,
  REFUSAL_REASONS,
  type RefusalReason,
  TIMEOUT_PHASES,
  type TimeoutPhase,
} from "../limits/connection-limiter.js";
import type { ConnectionEvents } from "../limits/listener-gate.js";
import type { Store } from "../store/store.js";
import type { ChunkBackendView } from "./api-context.js";
import { registerChunkMetrics } from "./chunk-metrics.js";
import { registerDataDirMetrics } from "./data-dir-metrics.js";
import { type MetricsJobs, registerJobMetrics } from "./job-metrics.js";
import { type ReplicationSources, registerReplicationMetrics } from "./replication-metrics.js";

/** What the gauges read from the store. */
export type MetricsStore = Pick<Store, "usage" | "listVolumes" | "showVolume" | "dataDir">;

/**
 * NBD request latency buckets, 100 µs to 10 s: a cached read takes well under a millisecond, a
 * FLUSH a few milliseconds, and a request held up by the collector or a slow disk seconds.
 */
export const NBD_SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class ApiMetrics implements ConnectionEvents {
  readonly registry = new Registry();
  private readonly refused: Counter<"listener" | "reason">;
  private readonly timedOut: Counter<"listener" | "phase">;
  private readonly requests: Counter<"op" | "result">;
  private readonly bytes: Counter<"op">;
  private readonly seconds: Histogram<"op">;
  private store: MetricsStore | undefined;
  private replication: ReplicationSources = {};
  private jobs: MetricsJobs | undefined;
  private chunksWatched = false;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "gsnap_nbd_requests_total",
      help: "NBD requests served, by operation and result (ok or error)",
      labelNames: ["op", "result"],
      registers,
    });
    this.bytes = new Counter({
      name: "gsnap_nbd_bytes_total",
      help: "Bytes moved by successful NBD requests, by operation",
      labelNames: ["op"],
      registers,
    });
    this.seconds = new Histogram({
      name: "gsnap_nbd_request_seconds",
      help: "Time from receiving an NBD request to sending its reply, by operation",
      labelNames: ["op"],
      buckets: NBD_SECONDS_BUCKETS,
      registers,
    });
    this.refused = new Counter({
      name: "gsnap_connections_refused_total",
      help: "Connections refused at a cap, by listener (nbd, api, link) and reason (per_address, total, descriptors)",
      labelNames: ["listener", "reason"],
      registers,
    });
    this.timedOut = new Counter({
      name: "gsnap_connections_timed_out_total",
      help: "Connections closed for taking too long, by listener and phase (handshake, idle)",
      labelNames: ["listener", "phase"],
      registers,
    });
    // Every series exists from the start at 0, so that increase() over them sees the first one.
    for (const listener of LISTENER_NAMES) {
      for (const reason of REFUSAL_REASONS) this.refused.inc({ listener, reason }, 0);
      for (const phase of TIMEOUT_PHASES) this.timedOut.inc({ listener, phase }, 0);
    }
    this.storeGauges();
    registerReplicationMetrics(this.registry, () => this.replication);
    registerJobMetrics(this.registry, () => this.jobs);
    registerDataDirMetrics(this.registry, () => this.store?.dataDir);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one NBD request; the NBD server's observer calls it once per reply. */
  request(op: string, bytes: number, seconds: number, ok: boolean): void {
    assert(op.length > 0, "an NBD metric needs an operation name");
    assert(Number.isFinite(bytes) && bytes >= 0, "NBD request bytes must be a count");
    assert(Number.isFinite(seconds) && seconds >= 0, "NBD request time must be a duration");
    this.requests.inc({ op, result: ok ? "ok" : "error" });
    if (ok && bytes > 0) this.bytes.inc({ op }, bytes);
    this.seconds.observe({ op }, seconds);
  }

  /** Counts a connection refused at a cap; the listeners' gates call it. */
  connectionRefused(listener: ListenerName, reason: RefusalReason): void {
    this.refused.inc({ listener, reason });
  }

  /** Counts a connection closed for a timeout; the listeners' gates call it. */
  connectionTimedOut(listener: ListenerName, phase: TimeoutPhase): void {
    this.timedOut.inc({ listener, phase });
  }

  /** Makes the store gauges read `store` on each scrape. */
  watch(store: MetricsStore): void {
    this.store = store;
  }

  /** Makes the link and pair metrics read these services on each scrape. */
  watchReplication(sources: ReplicationSources): void {
    this.replication = sources;
  }

  /** Makes the GSC job metrics read `jobs` on each scrape. */
  watchJobs(jobs: MetricsJobs | undefined): void {
    this.jobs = jobs;
  }

  /** Adds the object store metrics (chunk-metrics.ts) when `chunks` keeps them in one. */
  watchChunks(chunks: ChunkBackendView): void {
    assert(!this.chunksWatched, "the chunk backend is watched once");
    this.chunksWatched = true;
    registerChunkMetrics(this.registry, chunks);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private storeGauges(): void {
    this.storeGauge(
      "gsnap_store_segment_bytes",
      "Bytes in the store's segment files, live or not yet collected",
      (store) => store.usage().segmentBytes,
    );
    this.storeGauge(
      "gsnap_store_live_bytes",
      "Bytes of the segment files held by chunks that some track maps",
      (store) => store.usage().liveBytes,
    );
    this.storeGauge(
      "gsnap_store_disk_full",
      "1 while the disk is full: writes, snaps and new volumes get NO_SPACE until the collector gives space back",
      (store) => (store.usage().space === "full" ? 1 : 0),
    );
    this.storeGauge(
      "gsnap_journal_entries",
      "Small writes and zeroes in the write-back journal not yet merged into track chunks",
      (store) => store.usage().journal.entries,
    );
    this.storeGauge(
      "gsnap_journal_used_bytes",
      "Bytes of the write-back journal's files in use (writes wait for merges at its capacity)",
      (store) => store.usage().journal.usedBytes,
    );
    this.storeGauge(
      "gsnap_journal_capacity_bytes",
      "The write-back journal's capacity (--journal-mib)",
      (store) => store.usage().journal.capacityBytes,
    );
    this.storeGauge(
      "gsnap_volumes",
      "Volumes defined on this storage system",
      (store) => store.usage().volumes,
    );
    const allocated: Gauge<"volser"> = new Gauge({
      name: "gsnap_volume_allocated_bytes",
      help: "Bytes of a volume's mapped tracks (a chunk shared by snaps counts in each volume)",
      labelNames: ["volser"],
      registers: [this.registry],
      collect: () => {
        const store = this.store;
        if (store === undefined) return;
        // Reset first, so that a deleted volume's series goes with it.
        allocated.reset();
        for (const volume of store.listVolumes()) {
          allocated.set({ volser: volume.volser }, store.showVolume(volume.volser).allocatedBytes);
        }
      },
    });
    const inconsistent: Gauge<"volser"> = new Gauge({
      name: "gsnap_volume_inconsistent",
      help: "1 for each volume a copy left part old, part new (until a copy into it completes)",
      labelNames: ["volser"],
      registers: [this.registry],
      collect: () => {
        inconsistent.reset();
        for (const volume of this.store?.listVolumes() ?? []) {
          if (volume.inconsistent !== undefined) inconsistent.set({ volser: volume.volser }, 1);
        }
      },
    });
  }

  private storeGauge(name: string, help: string, read: (store: MetricsStore) => number): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      registers: [this.registry],
      collect: () => {
        if (this.store !== undefined) gauge.set(read(this.store));
      },
    });
  }
}
