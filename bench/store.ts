// Store benchmark (`npm run bench:store`): sequential write and read of 2 GiB through the store
// against dd on the same disk, snap time of fully mapped 3390-3 and 3390-54 volumes (with an empty
// journal, and with 10,000 random 4 KiB writes in it, which the snap merges first), random 4 KiB
// writes on a snapped volume against an unsnapped one, and peak RSS. Prints a table; asserts
// nothing. Medians of BENCH_RUNS runs (default 3).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseExtentList } from "../src/geometry/address.js";
import { Store } from "../src/store/store.js";
import { median, secondsSince } from "./link-peers.js";

const GIB = 1024 ** 3;
const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? 2 * GIB);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WRITE_CALL_BYTES = 8 * 1024 * 1024;
const TRACK = 57_344;
const RANDOM_WRITES = 4_000;
const RANDOM_QUEUE_DEPTH = 16;
const JOURNALED_WRITES = 10_000;
const benchDir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "gsnap-bench-"));

function dropCaches(): boolean {
  try {
    fs.writeFileSync("/proc/sys/vm/drop_caches", "3\n");
    return true;
  } catch {
    return false;
  }
}

function ddWrite(file: string): number {
  const start = process.hrtime.bigint();
  execFileSync(
    "dd",
    [
      "if=/dev/zero",
      `of=${file}`,
      "bs=8M",
      `count=${TOTAL_BYTES / WRITE_CALL_BYTES}`,
      "conv=fdatasync",
    ],
    {
      stdio: "ignore",
    },
  );
  return secondsSince(start);
}

function ddRead(file: string): number {
  const start = process.hrtime.bigint();
  execFileSync("dd", [`if=${file}`, "of=/dev/null", "bs=8M"], { stdio: "ignore" });
  return secondsSince(start);
}

/** Distinct non-zero content per call, so the store stores every track (zero tracks are not). */
function payload(): Buffer {
  const buffer = Buffer.allocUnsafe(WRITE_CALL_BYTES);
  for (let i = 0; i < buffer.length; i += 8) buffer.writeDoubleLE(Math.random() + 1, i);
  return buffer;
}

async function storeWriteRead(): Promise<{
  write: number;
  coldRead: number;
  warmRead: number;
  dropped: boolean;
}> {
  const dir = path.join(benchDir, `store-${Math.random()}`);
  const store = await Store.open(dir, { collectorIntervalMs: false });
  const cylinders = Math.ceil(TOTAL_BYTES / TRACK / 15) + 1;
  await store.createVolume({ volser: "BENCH", cylinders });
  const data = payload();
  let start = process.hrtime.bigint();
  for (let offset = 0; offset < TOTAL_BYTES; offset += WRITE_CALL_BYTES) {
    data.writeDoubleLE(offset, 0);
    await store.write("BENCH", { offsetBytes: offset, data });
  }
  await store.flush();
  const write = secondsSince(start);
  const dropped = dropCaches();
  // One read buffer, reused like dd's, so both sides pay the same for their destination memory.
  const readBuffer = Buffer.allocUnsafe(WRITE_CALL_BYTES);
  start = process.hrtime.bigint();
  for (let offset = 0; offset < TOTAL_BYTES; offset += WRITE_CALL_BYTES) {
    await store.read("BENCH", { offsetBytes: offset, lengthBytes: WRITE_CALL_BYTES }, readBuffer);
  }
  const coldRead = secondsSince(start);
  start = process.hrtime.bigint();
  for (let offset = 0; offset < TOTAL_BYTES; offset += WRITE_CALL_BYTES) {
    await store.read("BENCH", { offsetBytes: offset, lengthBytes: WRITE_CALL_BYTES }, readBuffer);
  }
  const warmRead = secondsSince(start);
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { write, coldRead, warmRead, dropped };
}

/** Maps every track of a volume to one chunk, a leaf at a time, then snaps the whole volume. */
async function snapTime(
  model: string,
): Promise<{ snapMs: number; populateS: number; journaledMs: number }> {
  const dir = path.join(benchDir, `snap-${model}-${Math.random()}`);
  // The journal is merged only when a snap asks (no idle merges, and it never gets half full).
  const store = await Store.open(dir, {
    collectorIntervalMs: false,
    mergeIdleMs: false,
    journalBytes: 4 * JOURNALED_WRITES * 4_160,
  });
  await store.createVolume({ volser: "SRC", model });
  const info = store.showVolume("SRC");
  const populateStart = process.hrtime.bigint();
  // Populate fast: write 512 distinct tracks once, then snap that leaf across the volume.
  const seed = Buffer.alloc(512 * TRACK, 1);
  for (let t = 0; t < 512; t += 1) seed.writeUInt32LE(t + 1, t * TRACK);
  await store.write("SRC", { offsetBytes: 0, data: seed });
  for (let first = 512; first < info.trackCount; first += 512) {
    const last = Math.min(first + 511, info.trackCount - 1);
    const count = last - first + 1;
    const sourceLast = count - 1;
    await store.snap({
      source: {
        volser: "SRC",
        extents: parseExtentList(`0.0-${Math.floor(sourceLast / 15)}.${sourceLast % 15}`),
      },
      target: {
        volser: "SRC",
        extents: [{ firstTrack: first, lastTrack: last }],
      },
    });
  }
  const populateS = secondsSince(populateStart);
  const mapped = store.showVolume("SRC").allocatedTracks;
  if (mapped !== info.trackCount)
    throw new Error(`populated ${mapped} of ${info.trackCount} tracks`);
  const times: number[] = [];
  // Each run snaps into a fresh, empty target, after a flush, so it times one real snap commit.
  for (let run = 0; run < Math.max(RUNS, 5); run += 1) {
    const target = `TGT${run}`;
    await store.createVolume({ volser: target, model });
    await store.flush();
    const start = process.hrtime.bigint();
    await store.snap({
      source: { volser: "SRC", extents: [{ firstTrack: 0, lastTrack: info.trackCount - 1 }] },
      target: { volser: target },
    });
    times.push(secondsSince(start) * 1000);
  }
  // A snap of the same volume with JOURNALED_WRITES random 4 KiB writes in the journal: it
  // merges them first.
  const block = Buffer.alloc(4_096, 5);
  for (let i = 0; i < JOURNALED_WRITES; i += 1) {
    const offsetBytes = Math.floor(Math.random() * (info.sizeBytes / 4_096)) * 4_096;
    await store.write("SRC", { offsetBytes, data: block });
  }
  await store.createVolume({ volser: "TGTJ", model });
  await store.flush();
  const start = process.hrtime.bigint();
  await store.snap({
    source: { volser: "SRC", extents: [{ firstTrack: 0, lastTrack: info.trackCount - 1 }] },
    target: { volser: "TGTJ" },
  });
  const journaledMs = secondsSince(start) * 1000;
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { snapMs: median(times), populateS, journaledMs };
}

async function randomWrites(snapped: boolean): Promise<number> {
  const dir = path.join(benchDir, `random-${snapped}-${Math.random()}`);
  const store = await Store.open(dir, { collectorIntervalMs: false });
  await store.createVolume({ volser: "VOL", model: "3390-1" });
  const sizeBytes = store.showVolume("VOL").sizeBytes;
  const fill = Buffer.alloc(15 * TRACK * 20, 7);
  for (let offset = 0; offset < sizeBytes; offset += fill.length) {
    await store.write("VOL", {
      offsetBytes: offset,
      data: fill.subarray(0, Math.min(fill.length, sizeBytes - offset)),
    });
  }
  if (snapped) {
    await store.createVolume({ volser: "SNAP", model: "3390-1" });
    await store.snap({
      source: { volser: "VOL", extents: parseExtentList("0.0-1112.14") },
      target: { volser: "SNAP" },
    });
  }
  const block = Buffer.alloc(4096, 9);
  const blocks = sizeBytes / 4096;
  let next = 0;
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (next < RANDOM_WRITES) {
      next += 1;
      const offset = Math.floor(Math.random() * blocks) * 4096;
      await store.write("VOL", { offsetBytes: offset, data: block });
    }
  };
  await Promise.all(Array.from({ length: RANDOM_QUEUE_DEPTH }, worker));
  const iops = RANDOM_WRITES / secondsSince(start);
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return iops;
}

async function main(): Promise<void> {
  const gib = TOTAL_BYTES / GIB;
  const results: Record<string, number[]> = {
    ddWrite: [],
    ddColdRead: [],
    ddWarmRead: [],
    write: [],
    coldRead: [],
    warmRead: [],
  };
  let dropped = false;
  for (let run = 0; run < RUNS; run += 1) {
    const ddFile = path.join(benchDir, "dd.img");
    results.ddWrite.push(ddWrite(ddFile));
    dropped = dropCaches();
    results.ddColdRead.push(ddRead(ddFile));
    results.ddWarmRead.push(ddRead(ddFile));
    fs.rmSync(ddFile);
    const store = await storeWriteRead();
    results.write.push(store.write);
    results.coldRead.push(store.coldRead);
    results.warmRead.push(store.warmRead);
  }
  const rate = (key: string) => gib / median(results[key]);
  const row = (name: string, ours: string, peer: string) => {
    const ratio = rate(ours) / rate(peer);
    console.log(
      `| ${name} | ${rate(ours).toFixed(2)} GiB/s | ${rate(peer).toFixed(2)} GiB/s | ${ratio.toFixed(2)}x |`,
    );
  };
  console.log(
    `\nStore benchmark: ${gib} GiB, median of ${RUNS} runs, dir ${benchDir}${dropped ? "" : " (could not drop caches: cold = warm)"}\n`,
  );
  console.log("| measure | gsnap store | dd | ratio |");
  console.log("| --- | --- | --- | --- |");
  row("sequential write + flush (8 MiB calls; dd conv=fdatasync)", "write", "ddWrite");
  row("sequential read, cold cache", "coldRead", "ddColdRead");
  row("sequential read, warm cache", "warmRead", "ddWarmRead");

  const small = await snapTime("3390-3");
  const large = await snapTime("3390-54");
  console.log("\n| snap of a fully mapped volume | time (median) | populate time |");
  console.log("| --- | --- | --- |");
  console.log(
    `| 3390-3 (50,085 tracks) | ${small.snapMs.toFixed(2)} ms | ${small.populateS.toFixed(1)} s |`,
  );
  console.log(
    `| 3390-54 (982,800 tracks) | ${large.snapMs.toFixed(2)} ms | ${large.populateS.toFixed(1)} s |`,
  );
  console.log(`| ratio 3390-54 / 3390-3 | ${(large.snapMs / small.snapMs).toFixed(2)} | |`);
  console.log(
    `| 3390-54 with ${JOURNALED_WRITES} random 4 KiB writes in the journal (merged first) | ${large.journaledMs.toFixed(0)} ms | |`,
  );
  console.log(
    `| 3390-3 with ${JOURNALED_WRITES} random 4 KiB writes in the journal (merged first) | ${small.journaledMs.toFixed(0)} ms | |`,
  );

  const plain = median(await Promise.all([randomWrites(false)]));
  const cow = median(await Promise.all([randomWrites(true)]));
  console.log(`\n| random 4 KiB writes, queue depth ${RANDOM_QUEUE_DEPTH} | IOPS |`);
  console.log("| --- | --- |");
  console.log(`| unsnapped 3390-1 | ${plain.toFixed(0)} |`);
  console.log(`| freshly snapped 3390-1 (copy-on-write) | ${cow.toFixed(0)} |`);
  console.log(`| ratio snapped / unsnapped | ${(cow / plain).toFixed(2)} |`);
  console.log(`\nPeak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  fs.rmSync(benchDir, { recursive: true, force: true });
}

await main();
