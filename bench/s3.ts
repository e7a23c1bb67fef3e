// Object-store benchmark (`npm run bench:s3`): the store with its chunks in S3 (a throw-away Ceph
// cluster on loopback, started and torn down here) against the local backend and against the S3
// SDK used directly, in one run, on 1 GiB of random data: sequential write (until write + flush
// returns, and until everything is in the object store), sequential read (cold and warm cache),
// 4 KiB read latency (cache miss and hit), 4 KiB random writes (each reads its track first),
// then the device's stats and the peak RSS. Medians of BENCH_RUNS runs (default 3), each on a
// fresh store dir and a fresh prefix. Asserts nothing about timings; it does check that what it
// reads back is what it wrote.

import { execFileSync } from "node:child_process";
import { randomFillSync, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type ObjectDeviceStats,
  ObjectSegmentDevice,
} from "../src/objects/object-segment-device.js";
import { ensureBucket, S3ObjectStore } from "../src/objects/s3-object-store.js";
import { Store } from "../src/store/store.js";
import { type CephCluster, collectGarbage, startCephCluster } from "../src/testing/ceph-cluster.js";
import { inFlight } from "./in-flight.js";
import { secondsSince } from "./link-peers.js";
import { rawRun } from "./s3-raw.js";
import { type LocalRun, type RawRun, report, type S3Run } from "./s3-report.js";

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? GIB);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/**
 * Writes and reads of 1 MiB with 8 in flight, as an NBD client copying a disk sends them; 1 MiB
 * is 18.3 tracks, so every write covers a track in part at each end.
 */
const IO_BYTES = MIB;
const IN_FLIGHT = 8;
/** The device's segment size and its uploads at once (its defaults), for the raw SDK runs. */
const OBJECT_BYTES = 32 * MIB;
const DEVICE_UPLOADS = 2;
/** The SDK's ranged GETs fetch 1 MiB each (the device's own spans are up to 16 MiB). */
const RANGED_GET_BYTES = MIB;
/** 200 reads: the p99 is the second slowest, still a measurement rather than one outlier. */
const RANDOM_READS = 200;
const RANDOM_READ_BYTES = 4 * KIB;
/** Random 4 KiB writes (the last phase of a run: they change the data the reads check). */
const RANDOM_WRITES = 2_000;
const RANDOM_WRITE_BYTES = 4 * KIB;
const TRACK = 57_344;
const TRACKS_PER_CYLINDER = 15;
/** The memstore OSD keeps objects in RAM: room for a run's data twice over, on a 24 GiB machine. */
const MEMSTORE_BYTES = 6 * GIB;
/** Bring-up takes a few seconds; past 120 s something is wrong, and ceph-up.sh says what. */
const CEPH_UP_TIMEOUT_S = 120;
/** Big enough for the whole volume, so the second read finds every block cached. */
const WARM_CACHE_BYTES = TOTAL_BYTES + 256 * MIB;
const BUCKET = "gsnap-bench";
const VOLSER = "BENCH";
const benchDir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "gsnap-s3-bench-"));
// Also when the bench fails or is interrupted (the Ceph cluster has the same hook).
process.once("exit", () => fs.rmSync(benchDir, { recursive: true, force: true }));

/** Writes dirty pages out and empties the page cache, so each side starts from the same state. */
function dropCaches(): boolean {
  try {
    execFileSync("sync");
    fs.writeFileSync("/proc/sys/vm/drop_caches", "3\n");
    return true;
  } catch {
    return false;
  }
}

/** Where the bench is, on stderr: the table alone goes to stdout. */
function progress(message: string): void {
  console.error(`[${(performance.now() / 1000).toFixed(0)} s] ${message}`);
}

function randomData(): Buffer {
  const data = Buffer.allocUnsafe(TOTAL_BYTES);
  for (let offset = 0; offset < TOTAL_BYTES; offset += 64 * MIB) {
    randomFillSync(data, offset, Math.min(64 * MIB, TOTAL_BYTES - offset));
  }
  return data;
}

/** 4 KiB-aligned offsets spread over the volume, the same for every backend. */
function randomOffsets(): number[] {
  const blocks = TOTAL_BYTES / RANDOM_READ_BYTES;
  return Array.from(
    { length: RANDOM_READS },
    () => Math.floor(Math.random() * blocks) * RANDOM_READ_BYTES,
  );
}

class Bench {
  readonly cluster: CephCluster;
  readonly data: Buffer;
  readonly offsets = randomOffsets();

  constructor(cluster: CephCluster, data: Buffer) {
    this.cluster = cluster;
    this.data = data;
  }

  objectStore(prefix: string): S3ObjectStore {
    return new S3ObjectStore(this.objectStoreOptions(prefix));
  }

  objectStoreOptions(prefix: string) {
    return {
      bucket: BUCKET,
      prefix,
      endpoint: this.cluster.endpoint,
      region: this.cluster.region,
      credentials: this.cluster.credentials,
    };
  }

  /** A store whose chunk device keeps its segments under `prefix`, with its device at hand. */
  async openS3Store(options: { dir: string; prefix: string; cacheBytes?: number }) {
    const objects = this.objectStore(options.prefix);
    let device: ObjectSegmentDevice | undefined;
    const store = await Store.open(options.dir, {
      collectorIntervalMs: false,
      device: async (committedSizes, dataDir) => {
        device = await ObjectSegmentDevice.open(
          {
            store: objects,
            stagingDir: path.join(dataDir, "staging"),
            // Left out rather than undefined: the device spreads its options over its defaults.
            ...(options.cacheBytes === undefined ? {} : { cacheBytes: options.cacheBytes }),
          },
          committedSizes,
        );
        return device;
      },
    });
    if (device === undefined) throw new Error("Store.open did not make the device");
    const opened = device;
    return {
      store,
      device: opened,
      close: async () => {
        await store.close();
        objects.close();
      },
    };
  }

  async writeAll(store: Store): Promise<void> {
    const calls = Math.ceil(TOTAL_BYTES / IO_BYTES);
    await inFlight(calls, IN_FLIGHT, async (index) => {
      const offsetBytes = index * IO_BYTES;
      const data = this.data.subarray(offsetBytes, Math.min(offsetBytes + IO_BYTES, TOTAL_BYTES));
      await store.write(VOLSER, { offsetBytes, data });
    });
  }

  /** Reads the volume through, checking every byte against what was written. */
  async readAll(store: Store): Promise<void> {
    const buffers = Array.from({ length: IN_FLIGHT }, () => Buffer.allocUnsafe(IO_BYTES));
    await inFlight(Math.ceil(TOTAL_BYTES / IO_BYTES), IN_FLIGHT, async (index, slot) => {
      const offsetBytes = index * IO_BYTES;
      const lengthBytes = Math.min(IO_BYTES, TOTAL_BYTES - offsetBytes);
      const into = buffers[slot].subarray(0, lengthBytes);
      await store.read(VOLSER, { offsetBytes, lengthBytes }, into);
      this.check(into, offsetBytes);
    });
  }

  /** One 4 KiB read at a time at each offset; the time of each in ms. */
  async readLatencies(store: Store): Promise<number[]> {
    const into = Buffer.allocUnsafe(RANDOM_READ_BYTES);
    const times: number[] = [];
    for (const offsetBytes of this.offsets) {
      const start = process.hrtime.bigint();
      await store.read(VOLSER, { offsetBytes, lengthBytes: RANDOM_READ_BYTES }, into);
      times.push(secondsSince(start) * 1000);
      this.check(into, offsetBytes);
    }
    return times;
  }

  /**
   * RANDOM_WRITES 4 KiB writes at random 4 KiB-aligned offsets, IN_FLIGHT at a time, then a
   * flush: each covers one track in part, so each reads its track first. Seconds.
   */
  async randomWrites(store: Store): Promise<number> {
    const data = Buffer.alloc(RANDOM_WRITE_BYTES, 0x5a);
    const slots = Math.floor(TOTAL_BYTES / RANDOM_WRITE_BYTES);
    const start = process.hrtime.bigint();
    await inFlight(RANDOM_WRITES, IN_FLIGHT, async () => {
      const offsetBytes = Math.floor(Math.random() * slots) * RANDOM_WRITE_BYTES;
      await store.write(VOLSER, { offsetBytes, data });
    });
    await store.flush();
    return secondsSince(start);
  }

  check(read: Buffer, offsetBytes: number): void {
    const expected = this.data.subarray(offsetBytes, offsetBytes + read.length);
    if (!read.equals(expected)) {
      throw new Error(
        `Read of ${read.length} bytes at offset ${offsetBytes} differs from the data`,
      );
    }
  }

  async createVolume(store: Store): Promise<void> {
    const cylinders = Math.ceil(TOTAL_BYTES / TRACK / TRACKS_PER_CYLINDER);
    await store.createVolume({ volser: VOLSER, cylinders });
  }

  /** Deletes every object of the bucket and frees their space in the OSD. */
  async emptyBucket(): Promise<void> {
    const objects = this.objectStore("");
    try {
      const listed = await objects.list("");
      await inFlight(listed.length, 16, (index) => objects.delete(listed[index].key));
    } finally {
      objects.close();
    }
    await collectGarbage(this.cluster);
  }
}

/** Subtracts the counters of `before` from `after`, for one phase of a device's life. */
function statsSince(after: ObjectDeviceStats, before: ObjectDeviceStats): ObjectDeviceStats {
  const delta = { ...after } as Record<string, number>;
  for (const key of [
    "puts",
    "putBytes",
    "gets",
    "getBytes",
    "deletes",
    "lists",
    "retries",
    "failures",
    "cacheHits",
    "cacheMisses",
    "cacheEvictions",
    "uploadFailures",
  ] as const) {
    delta[key] = after[key] - before[key];
  }
  return delta as unknown as ObjectDeviceStats;
}

async function s3Run(bench: Bench): Promise<S3Run> {
  const dir = path.join(benchDir, `s3-${randomUUID()}`);
  const prefix = `bench/${randomUUID()}/`;
  const stats: Record<string, ObjectDeviceStats> = {};

  progress("S3-backed store: write");
  const writer = await bench.openS3Store({ dir, prefix });
  await bench.createVolume(writer.store);
  dropCaches();
  let start = process.hrtime.bigint();
  await bench.writeAll(writer.store);
  await writer.store.flush();
  const flushS = secondsSince(start);
  progress("S3-backed store: drain");
  await writer.device.drained();
  const drainedS = secondsSince(start);
  stats.write = writer.device.stats();
  await writer.close();

  progress("S3-backed store: sequential reads");
  // Reopened after the drain: nothing staged, nothing cached.
  const reader = await bench.openS3Store({ dir, prefix, cacheBytes: WARM_CACHE_BYTES });
  const opened = reader.device.stats();
  if (opened.stagedSegments !== 0) {
    throw new Error(`${opened.stagedSegments} segments still staged after drained()`);
  }
  dropCaches();
  start = process.hrtime.bigint();
  await bench.readAll(reader.store);
  const coldReadS = secondsSince(start);
  const cold = reader.device.stats();
  stats["cold read"] = statsSince(cold, opened);
  start = process.hrtime.bigint();
  await bench.readAll(reader.store);
  const warmReadS = secondsSince(start);
  stats["warm read"] = statsSince(reader.device.stats(), cold);
  await reader.close();

  progress("S3-backed store: 4 KiB reads");
  // A fresh device with the default cache: the first 4 KiB reads all miss.
  const random = await bench.openS3Store({ dir, prefix });
  const fresh = random.device.stats();
  const missMs = await bench.readLatencies(random.store);
  const missed = random.device.stats();
  stats["4 KiB miss"] = statsSince(missed, fresh);
  const hitMs = await bench.readLatencies(random.store);
  stats["4 KiB hit"] = statsSince(random.device.stats(), missed);
  await random.close();

  progress("S3-backed store: 4 KiB writes");
  // Fresh again: most writes read their track from the object store first.
  const writes = await bench.openS3Store({ dir, prefix });
  const beforeWrites = writes.device.stats();
  const randomWriteS = await bench.randomWrites(writes.store);
  stats["4 KiB writes"] = statsSince(writes.device.stats(), beforeWrites);
  await writes.close();

  fs.rmSync(dir, { recursive: true, force: true });
  return { flushS, drainedS, coldReadS, warmReadS, missMs, hitMs, randomWriteS, stats };
}

async function localRun(bench: Bench): Promise<LocalRun> {
  const dir = path.join(benchDir, `local-${randomUUID()}`);
  const store = await Store.open(dir, { collectorIntervalMs: false });
  await bench.createVolume(store);
  dropCaches();
  let start = process.hrtime.bigint();
  await bench.writeAll(store);
  await store.flush();
  const writeS = secondsSince(start);
  dropCaches();
  start = process.hrtime.bigint();
  await bench.readAll(store);
  const coldReadS = secondsSince(start);
  start = process.hrtime.bigint();
  await bench.readAll(store);
  const warmReadS = secondsSince(start);
  dropCaches();
  const coldMs = await bench.readLatencies(store);
  const warmMs = await bench.readLatencies(store);
  const randomWriteS = await bench.randomWrites(store);
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { writeS, coldReadS, warmReadS, coldMs, warmMs, randomWriteS };
}

async function main(): Promise<void> {
  const startedAt = process.hrtime.bigint();
  // Other work on the machine skews every row; the load before the start says how busy it was.
  const loadBefore = os.loadavg()[0];
  const cluster = await startCephCluster({
    memstoreBytes: MEMSTORE_BYTES,
    upTimeoutS: CEPH_UP_TIMEOUT_S,
    dirPrefix: "gsnap-bench-ceph-",
    purpose: "the benchmark",
  });
  try {
    const bench = new Bench(cluster, randomData());
    await ensureBucket(bench.objectStoreOptions(""));
    const s3: S3Run[] = [];
    const local: LocalRun[] = [];
    const raw: RawRun[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      s3.push(await s3Run(bench));
      local.push(await localRun(bench));
      raw.push(
        await rawRun(bench, {
          bucket: BUCKET,
          objectBytes: OBJECT_BYTES,
          blockBytes: RANGED_GET_BYTES,
          concurrencies: [DEVICE_UPLOADS, IN_FLIGHT],
          rangedInFlight: IN_FLIGHT,
        }),
      );
      await bench.emptyBucket();
      console.error(`run ${run + 1} of ${RUNS} done after ${secondsSince(startedAt).toFixed(0)} s`);
    }
    report(
      { s3, local, raw },
      {
        totalBytes: TOTAL_BYTES,
        runs: RUNS,
        inFlight: IN_FLIGHT,
        uploads: DEVICE_UPLOADS,
        randomWrites: RANDOM_WRITES,
        loadBefore,
        loadAfter: os.loadavg()[0],
      },
    );
  } finally {
    cluster.stop();
    fs.rmSync(benchDir, { recursive: true, force: true });
  }
}

await main();
