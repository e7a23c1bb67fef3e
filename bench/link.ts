// Link benchmark (`npm run bench:link`): replication between two real `gsnap serve` processes on
// loopback, in one run: the initial copy of a volume of 2 GiB of random data (establish until
// duplex) against a plain Node socket pump (raw loopback TCP, two processes) and against nbdcopy
// between two nbdkit `file` servers (with and without --flush); the resume after 1% of the tracks
// changed against the full copy; 4 KiB writes at queue depth 1 on a sync pair against a volume in
// no pair; the peak RSS of each process; and the CPU seconds of each daemon during the initial
// copy and the resume (per track, and against nbdcopy's and its nbdkit servers') with its garbage
// collections. Prints tables of medians and ratios.

import { execFile } from "node:child_process";
import { randomFillSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { NbdClient } from "../src/nbd/nbd-client.js";
import type { PairInfo } from "../src/pprc/pair-service.js";
import type { ServeProcess } from "../src/testing/serve-process.js";
import { printCpuTables } from "./cpu-table.js";
import {
  median,
  peakRssMiB,
  pumpSeconds,
  resetPeakRss,
  secondsSince,
  timed,
} from "./link-peers.js";
import {
  changeTracks,
  createVolume as createSystemVolume,
  cylindersFor,
  type Peers,
  PRIMARY,
  SECONDARY,
  type Systems,
  startBench,
  TRACK_BYTES,
  TRACKS_PER_CYLINDER,
} from "./link-systems.js";
import {
  type Add,
  addCosts,
  type DaemonCosts,
  measureDaemons,
  measureNbdcopyRuns,
} from "./measure-costs.js";
import { api, POLL_INTERVAL_MS, pairInfo, waitForDuplex } from "./pair-api.js";

const run = promisify(execFile);
const GIB = 1024 ** 3;
const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? 2 * GIB);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Enough writes for a steady p99 (20 samples above it), in a few seconds per series. */
const SYNC_WRITES = Number(process.env.BENCH_SYNC_WRITES ?? 2_000);
const TRACK = TRACK_BYTES;
const CYLINDERS = cylindersFor(TOTAL_BYTES);
const TRACKS = CYLINDERS * TRACKS_PER_CYLINDER;
const WRITE_BYTES = 4096;
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "gsnap-link-bench-"));

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

function createVolume(server: ServeProcess, volume: { volser: string; ssid: string }) {
  return createSystemVolume(server, { ...volume, cylinders: CYLINDERS });
}

/**
 * Establishes a pair of `volser` onto a new secondary volume; seconds from POST to duplex, and
 * what those cost both daemons.
 */
async function establish(
  systems: Systems,
  pair: { volser: string; target: string; mode: "copy" | "sync" },
): Promise<{ seconds: number; pair: PairInfo; costs: DaemonCosts }> {
  await createVolume(systems.secondary, { volser: pair.target, ssid: SECONDARY.ssid });
  await run("sync", []);
  const { result, costs } = await measureDaemons(systems, async () => {
    const start = process.hrtime.bigint();
    await api(systems.primary, {
      method: "POST",
      path: "/v1/pairs",
      body: {
        volser: pair.volser,
        secondary: `${SECONDARY.serial}.${SECONDARY.ssid}.${pair.target}`,
        mode: pair.mode,
      },
    });
    const duplex = await waitForDuplex(systems.primary, pair.volser);
    return { seconds: secondsSince(start), pair: duplex };
  });
  return { ...result, costs };
}

/** Terminates the pair of `volser` and deletes its secondary volume, so its space comes back. */
async function terminate(
  systems: Systems,
  pair: { volser: string; target: string },
): Promise<void> {
  await api(systems.primary, { method: "DELETE", path: `/v1/pairs/${pair.volser}` });
  await api(systems.secondary, { method: "DELETE", path: `/v1/volumes/${pair.target}` });
}

/**
 * Suspends a duplex pair, changes 1% of its tracks, then times resume until duplex again and
 * measures what the resync costs both daemons.
 */
async function resumeSeconds(
  systems: Systems,
  volser: string,
): Promise<{
  seconds: number;
  tracksChanged: number;
  tracksOutOfSync: number | null;
  costs: DaemonCosts;
}> {
  const server = systems.primary;
  await api(server, { method: "POST", path: `/v1/pairs/${volser}/suspend` });
  const tracksChanged = await changeTracks(server, { volser, tracks: TRACKS });
  const suspended = await pairInfo(server, volser);
  await run("sync", []);
  const { result: seconds, costs } = await measureDaemons(systems, async () => {
    const start = process.hrtime.bigint();
    await api(server, { method: "POST", path: `/v1/pairs/${volser}/resume` });
    await waitForDuplex(server, volser);
    return secondsSince(start);
  });
  return { seconds, tracksChanged, tracksOutOfSync: suspended.tracksOutOfSync, costs };
}

/** 4 KiB writes at random aligned offsets, one at a time; answers each one's latency in µs. */
async function writeLatenciesUs(server: ServeProcess, volser: string): Promise<number[]> {
  const client = await NbdClient.connect({ host: server.nbdHost, port: server.nbdPort }, volser);
  const data = Buffer.allocUnsafe(WRITE_BYTES);
  const blocks = Math.floor((TRACKS * TRACK) / WRITE_BYTES);
  const latencies: number[] = [];
  for (let i = 0; i < SYNC_WRITES; i += 1) {
    randomFillSync(data);
    const offset = Math.floor(Math.random() * blocks) * WRITE_BYTES;
    const start = process.hrtime.bigint();
    await client.write(offset, data);
    latencies.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  await client.close();
  return latencies.sort((a, b) => a - b);
}

type Results = Record<string, number[]>;

/** One run of the copy measures: the socket pump, nbdcopy twice, gsnap's copy and resume. */
async function copyRun(
  options: { systems: Systems; peers: Peers; index: number },
  add: Add,
): Promise<void> {
  const { systems, peers } = options;
  await run("sync", []);
  add("pump", await pumpSeconds(TOTAL_BYTES));
  await measureNbdcopyRuns(peers, { totalBytes: TOTAL_BYTES, add });
  const pair = { volser: "PRIM", target: `SEC${String(options.index).padStart(3, "0")}` };
  const copy = await establish(systems, { ...pair, mode: "copy" });
  add("copy", copy.seconds);
  addCosts(add, "copy", copy.costs);
  add("copyBytesSent", copy.pair.bytesSent);
  const resume = await resumeSeconds(systems, pair.volser);
  add("resume", resume.seconds);
  addCosts(add, "resume", resume.costs);
  add("resumeTracks", resume.tracksChanged);
  add("resumeOutOfSync", resume.tracksOutOfSync ?? Number.NaN);
  await terminate(systems, pair);
  console.error(
    `run ${options.index + 1}/${RUNS}: copy ${copy.seconds.toFixed(2)} s, ` +
      `resume ${resume.seconds.toFixed(3)} s`,
  );
}

/** Sync-mode latency: a sync pair and a volume in no pair on the same primary, RUNS series each. */
async function syncRuns(systems: Systems, add: Add): Promise<void> {
  await createVolume(systems.primary, { volser: "SYNCP", ssid: PRIMARY.ssid });
  await createVolume(systems.primary, { volser: "SIMPLX", ssid: PRIMARY.ssid });
  const copy = await establish(systems, { volser: "SYNCP", target: "SYNCS", mode: "sync" });
  add("syncEstablish", copy.seconds);
  for (let i = 0; i < RUNS; i += 1) {
    const simplex = await writeLatenciesUs(systems.primary, "SIMPLX");
    add("simplexP50", percentile(simplex, 0.5));
    add("simplexP99", percentile(simplex, 0.99));
    const duplex = await writeLatenciesUs(systems.primary, "SYNCP");
    add("duplexP50", percentile(duplex, 0.5));
    add("duplexP99", percentile(duplex, 0.99));
  }
  const after = await pairInfo(systems.primary, "SYNCP");
  if (after.state !== "duplex") {
    throw new Error(`The sync pair left duplex during the writes: ${JSON.stringify(after)}`);
  }
}

function printTable(results: Results, rss: { name: string; fill: number; rest: number }[]): void {
  const gib = TOTAL_BYTES / GIB;
  const m = (key: string) => median(results[key]);
  const goal = (met: boolean, text: string) => `${text}: ${met ? "met" : "MISSED"}`;
  console.log(
    `\nLink benchmark: ${gib} GiB of random data, median of ${RUNS} runs, two gsnap serve ` +
      `processes on loopback, ${os.cpus().length} cores (a shared machine: noisy)\n`,
  );
  console.log("| initial copy | time | rate | gsnap copy speed against it | goal |");
  console.log("| --- | --- | --- | --- | --- |");
  const copy = m("copy");
  const row = (name: string, key: string, goalText = "") => {
    const ratio = m(key) / copy;
    console.log(
      `| ${name} | ${m(key).toFixed(2)} s | ${(gib / m(key)).toFixed(2)} GiB/s | ` +
        `${ratio.toFixed(2)}x | ${goalText === "" ? "" : goal(ratio >= 1, goalText)} |`,
    );
  };
  row("raw loopback TCP: Node socket pump, 2 processes, 1 MiB writes", "pump");
  row("nbdcopy nbdkit file -> nbdkit file", "nbdcopy", ">= 1.0x");
  row("nbdcopy --flush nbdkit file -> nbdkit file", "nbdcopyFlush");
  row("gsnap pair establish (copy) -> duplex", "copy");
  const resumeShare = m("resume") / copy;
  const tracks = m("resumeTracks");
  console.log(
    `| gsnap resume after ${tracks} of ${TRACKS} tracks (1%) changed -> duplex | ` +
      `${m("resume").toFixed(3)} s | ${((tracks * TRACK) / GIB / m("resume")).toFixed(2)} GiB/s | ` +
      `${(resumeShare * 100).toFixed(2)}% of the full copy | ${goal(resumeShare <= 0.03, "<= 3%")} |`,
  );
  printCpuTables(results, {
    totalBytes: TOTAL_BYTES,
    copies: [
      {
        name: "pair establish (copy) -> duplex",
        prefix: "copy",
        tracks: TRACKS,
        wholeExtent: true,
        goal: true,
      },
      { name: "resume after 1% changed -> duplex", prefix: "resume", tracks, wholeExtent: false },
    ],
  });
  console.log(
    `\n| 4 KiB writes, queue depth 1, ${SYNC_WRITES} per series | simplex | sync duplex | ratio | goal |`,
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (const [name, suffix] of [
    ["p50", "P50"],
    ["p99", "P99"],
  ]) {
    const ratio = m(`duplex${suffix}`) / m(`simplex${suffix}`);
    console.log(
      `| ${name} | ${m(`simplex${suffix}`).toFixed(0)} µs | ${m(`duplex${suffix}`).toFixed(0)} µs | ` +
        `${ratio.toFixed(2)}x | ${suffix === "P50" ? goal(ratio <= 2, "<= 2x") : ""} |`,
    );
  }
  console.log(
    "\n| process | peak RSS while the primary was filled | peak RSS during the measures |",
  );
  console.log("| --- | --- | --- |");
  for (const { name, fill, rest } of rss) {
    console.log(`| ${name} | ${fill.toFixed(0)} MiB | ${rest.toFixed(0)} MiB |`);
  }
  console.log(
    `\nOut-of-sync tracks before resume (median): ${m("resumeOutOfSync")}; bytes sent by the ` +
      `initial copy (median): ${(m("copyBytesSent") / GIB).toFixed(3)} GiB; the sync pair's ` +
      `initial copy of its empty volume: ${m("syncEstablish").toFixed(2)} s. Pair times are from ` +
      `the POST to the first GET answering duplex, polled every ${POLL_INTERVAL_MS} ms.`,
  );
}

async function main(): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const results: Results = {};
  const add: Add = (key, value) => {
    results[key] ??= [];
    results[key].push(value);
  };
  try {
    const { systems, peers } = await startBench(dir, { totalBytes: TOTAL_BYTES, cleanups });
    const processes = [
      { name: "gsnap serve, primary", pid: systems.primary.child.pid },
      { name: "gsnap serve, secondary", pid: systems.secondary.child.pid },
      { name: "nbdkit file, source", pid: peers.source.child.pid },
      { name: "nbdkit file, target", pid: peers.target.child.pid },
    ];
    await createVolume(systems.primary, { volser: "PRIM", ssid: PRIMARY.ssid });
    const fillUri = systems.primary.nbdUri("PRIM");
    const fillSeconds = await timed("nbdcopy", ["--flush", peers.sourceFile, fillUri]);
    console.error(`filled the primary in ${fillSeconds.toFixed(2)} s`);
    const fillRss = processes.map(({ pid }) => peakRssMiB(pid));
    for (const { pid } of processes) resetPeakRss(pid);
    for (let i = 0; i < RUNS; i += 1) await copyRun({ systems, peers, index: i }, add);
    await syncRuns(systems, add);
    const rss = processes.map(({ name, pid }, i) => ({
      name,
      fill: fillRss[i],
      rest: peakRssMiB(pid),
    }));
    printTable(results, rss);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
