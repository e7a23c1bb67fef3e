// The tables of the object-store benchmark (bench/s3.ts): medians over the runs of each measure,
// gsnap on S3 beside its peer (the local backend) or its reference (the S3 SDK on its own), then
// the device's counters per phase of the last run, and the peak RSS.

import os from "node:os";
import type { ObjectDeviceStats } from "../src/objects/object-segment-device.js";
import { median } from "./link-peers.js";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export interface S3Run {
  flushS: number;
  drainedS: number;
  coldReadS: number;
  warmReadS: number;
  missMs: number[];
  hitMs: number[];
  /** RANDOM_WRITES 4 KiB writes and a flush. */
  randomWriteS: number;
  /** The device's counters per phase: write, cold read, warm read, 4 KiB miss, 4 KiB hit. */
  stats: Record<string, ObjectDeviceStats>;
}

export interface LocalRun {
  writeS: number;
  coldReadS: number;
  warmReadS: number;
  coldMs: number[];
  warmMs: number[];
  randomWriteS: number;
}

export interface RawRun {
  /** Seconds per concurrency. */
  put: Record<number, number>;
  /** At the device's concurrency, each PUT with its Content-MD5 as the device sends it. */
  putMd5: number;
  getWhole: Record<number, number>;
  getRanged: number;
}

export interface ReportSetup {
  totalBytes: number;
  runs: number;
  inFlight: number;
  uploads: number;
  /** The 4 KiB writes of each run's last phase. */
  randomWrites: number;
  /** One-minute load averages before and after the runs (the machine has os.availableParallelism() cores). */
  loadBefore: number;
  loadAfter: number;
}

/** Nearest-rank percentile. */
function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)];
}

export function report(
  results: { s3: S3Run[]; local: LocalRun[]; raw: RawRun[] },
  setup: ReportSetup,
): void {
  const { s3, local, raw } = results;
  const gib = setup.totalBytes / GIB;
  const size = gib >= 1 ? `${gib} GiB` : `${setup.totalBytes / MIB} MiB`;
  const rate = (s: number) => `${(gib / s).toFixed(2)} GiB/s (${s.toFixed(2)} s)`;
  // Ratios are gsnap's speed over the peer's: below 1, gsnap is slower.
  const throughput = (name: string, oursS: number[], peerS: number[], peer: string) => {
    const ours = median(oursS);
    const theirs = median(peerS);
    console.log(
      `| ${name} | ${rate(ours)} | ${peer}: ${rate(theirs)} | ${(theirs / ours).toFixed(2)}x |`,
    );
  };
  const latency = (name: string, oursMs: number[], peerMs: number[], peer: string) => {
    const ours = median(oursMs);
    const theirs = median(peerMs);
    console.log(
      `| ${name} | ${ours.toFixed(3)} ms | ${peer}: ${theirs.toFixed(3)} ms | ${(theirs / ours).toFixed(2)}x |`,
    );
  };
  const pick = <T>(runs: T[], fn: (run: T) => number) => runs.map(fn);
  const depth = `1 MiB x ${setup.inFlight} in flight`;
  const [uploads, wide] = [setup.uploads, setup.inFlight];

  console.log(
    `\nObject-store benchmark: ${size} of random data, median of ${setup.runs} runs; ` +
      "one-node Ceph (memstore OSD, radosgw) on loopback, sharing the machine with the bench; " +
      `${os.availableParallelism()} cores, load average ${setup.loadBefore.toFixed(1)} before, ` +
      `${setup.loadAfter.toFixed(1)} after\n`,
  );
  console.log("| measure | gsnap S3 | peer/reference | ratio (speed) |");
  console.log("| --- | --- | --- | --- |");
  const writeFlush = pick(s3, (run) => run.flushS);
  const drained = pick(s3, (run) => run.drainedS);
  throughput(
    `sequential write, ${depth}, until write + flush (staged locally)`,
    writeFlush,
    pick(local, (run) => run.writeS),
    "local backend, write + flush",
  );
  for (const concurrency of [uploads, wide]) {
    throughput(
      "sequential write, until drained() (all in the object store)",
      drained,
      pick(raw, (run) => run.put[concurrency]),
      `SDK PUT 32 MiB objects, ${concurrency} at once`,
    );
  }
  throughput(
    "sequential write, until drained()",
    drained,
    pick(raw, (run) => run.putMd5),
    `SDK PUT 32 MiB objects with Content-MD5, ${uploads} at once`,
  );
  const coldRead = pick(s3, (run) => run.coldReadS);
  throughput(
    `sequential read, ${depth}, cold (reopened, empty cache)`,
    coldRead,
    pick(local, (run) => run.coldReadS),
    "local backend, page cache dropped",
  );
  for (const concurrency of [uploads, wide]) {
    throughput(
      "sequential read, cold",
      coldRead,
      pick(raw, (run) => run.getWhole[concurrency]),
      `SDK GET whole 32 MiB objects, ${concurrency} at once`,
    );
  }
  throughput(
    "sequential read, cold",
    coldRead,
    pick(raw, (run) => run.getRanged),
    `SDK ranged 1 MiB GETs, ${wide} at once`,
  );
  throughput(
    "sequential read, warm cache (second read)",
    pick(s3, (run) => run.warmReadS),
    pick(local, (run) => run.warmReadS),
    "local backend, second read (page cache)",
  );
  for (const [label, fraction] of [
    ["p50", 0.5],
    ["p99", 0.99],
  ] as const) {
    latency(
      `4 KiB read at random offsets, one at a time, cache miss, ${label}`,
      pick(s3, (run) => percentile(run.missMs, fraction)),
      pick(local, (run) => percentile(run.coldMs, fraction)),
      "local backend, page cache dropped",
    );
  }
  for (const [label, fraction] of [
    ["p50", 0.5],
    ["p99", 0.99],
  ] as const) {
    latency(
      `4 KiB read, same offsets again, cache hit, ${label}`,
      pick(s3, (run) => percentile(run.hitMs, fraction)),
      pick(local, (run) => percentile(run.warmMs, fraction)),
      "local backend, page cache warm",
    );
  }
  const iops = (runs: number[]) => setup.randomWrites / median(runs);
  const ours = iops(pick(s3, (run) => run.randomWriteS));
  const theirs = iops(pick(local, (run) => run.randomWriteS));
  console.log(
    `| 4 KiB writes at random offsets, ${setup.inFlight} in flight, + flush | ${ours.toFixed(0)} IOPS | ` +
      `local backend: ${theirs.toFixed(0)} IOPS | ${(ours / theirs).toFixed(2)}x |`,
  );
  printStats(s3[s3.length - 1].stats);
  console.log(
    `\nPeak RSS of the bench process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
}

function printStats(phases: Record<string, ObjectDeviceStats>): void {
  console.log("\nObject device counters, last run, per phase:\n");
  console.log(
    "| phase | PUTs | PUT MiB | GETs | GET MiB | mean GET | retries | failures | upload failures | cache hits | cache misses | evictions |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [phase, stats] of Object.entries(phases)) {
    const meanGet =
      stats.gets === 0 ? "-" : `${(stats.getBytes / stats.gets / 1024).toFixed(0)} KiB`;
    console.log(
      `| ${phase} | ${stats.puts} | ${(stats.putBytes / MIB).toFixed(0)} | ${stats.gets} | ` +
        `${(stats.getBytes / MIB).toFixed(0)} | ${meanGet} | ${stats.retries} | ${stats.failures} | ` +
        `${stats.uploadFailures} | ${stats.cacheHits} | ${stats.cacheMisses} | ${stats.cacheEvictions} |`,
    );
  }
}
