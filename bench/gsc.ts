// GSC benchmark (`npm run bench:gsc`): a global snap copy of a 2 GiB extent of random data between
// two real `gsnap serve` processes on loopback, timed from the POST to the job's end, against
// nbdcopy of the same bytes between two nbdkit `file` servers (with and without --flush, since a
// finished GSC is durable at the target); the time split by step; the same GSC repeated after 1%
// of the source tracks changed; the GSC without a target intermediate; the peak RSS of each
// process; and the CPU seconds of each daemon during each GSC (per track, and against nbdcopy's
// and its nbdkit servers') with its garbage collections. Prints tables of medians and ratios.

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { GSC_STEPS, type GscRequest, type GscStep, type JobInfo } from "../src/gsc/job-service.js";
import { printCpuTables } from "./cpu-table.js";
import { runGsc, stepMs } from "./gsc-api.js";
import { median, peakRssMiB, resetPeakRss, timed } from "./link-peers.js";
import {
  CHANGE_TRACK_STRIDE,
  changeTracks,
  createVolume,
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
import { api } from "./pair-api.js";

const run = promisify(execFile);
const GIB = 1024 ** 3;
const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? 2 * GIB);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CYLINDERS = cylindersFor(TOTAL_BYTES);
const TRACKS = CYLINDERS * TRACKS_PER_CYLINDER;
const EXTENT = `0.0-${CYLINDERS - 1}.${TRACKS_PER_CYLINDER - 1}`;
const SOURCE = "VOL001";
const TARGET = "VOL900";
const TARGET_ADDRESS = `${SECONDARY.serial}.${SECONDARY.ssid}.${TARGET}`;
/** The GSC measured: P to S through P' and S', both allocated for the job. */
const FULL_GSC: GscRequest = {
  source: `${SOURCE}:${EXTENT}`,
  intermediate: "*",
  target: `${TARGET_ADDRESS}:${EXTENT}`,
  targetIntermediate: "*",
};
/** The variant without S': the whole volume onto S directly. */
const NO_TARGET_INTERMEDIATE_GSC: GscRequest = {
  source: `${SOURCE}:${EXTENT}`,
  intermediate: "*",
  target: TARGET_ADDRESS,
};
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "gsnap-gsc-bench-"));

type Results = Record<string, number[]>;

/** A target that does not hold the data: VOL900 deleted (when there) and created again, empty. */
async function freshTarget(systems: Systems): Promise<void> {
  const volumes = await api<{ volser: string }[]>(systems.secondary, {
    method: "GET",
    path: "/v1/volumes",
  });
  if (volumes.some((volume) => volume.volser === TARGET)) {
    await api(systems.secondary, { method: "DELETE", path: `/v1/volumes/${TARGET}` });
  }
  await createVolume(systems.secondary, {
    volser: TARGET,
    ssid: SECONDARY.ssid,
    cylinders: CYLINDERS,
  });
  await run("sync", []);
}

/** Runs a GSC on the primary; answers its time and job, and what it cost both daemons. */
async function measureGsc(systems: Systems, request: GscRequest) {
  const { result, costs } = await measureDaemons(systems, () => runGsc(systems.primary, request));
  return { ...result, costs };
}

/** Records a GSC's time, bytes sent, costs and the milliseconds of each step under `prefix`. */
function addGsc(
  add: Add,
  prefix: string,
  result: { seconds: number; job: JobInfo; costs: DaemonCosts },
): void {
  add(prefix, result.seconds);
  addCosts(add, prefix, result.costs);
  add(`${prefix}Bytes`, result.job.progress.bytesDone);
  let stepsMs = 0;
  for (const [step, { ms }] of stepMs(result.job)) {
    add(`${prefix}Step${step}`, ms);
    stepsMs += ms;
  }
  add(`${prefix}OutsideSteps`, result.seconds * 1000 - stepsMs);
}

/** One run: nbdcopy twice, the full GSC onto an empty target, 1% changed, the GSC again. */
async function gscRun(
  options: { systems: Systems; peers: Peers; index: number },
  add: Add,
): Promise<void> {
  const { systems, peers } = options;
  await measureNbdcopyRuns(peers, { totalBytes: TOTAL_BYTES, add });
  await freshTarget(systems);
  const full = await measureGsc(systems, FULL_GSC);
  addGsc(add, "full", full);
  add("repeatTracks", await changeTracks(systems.primary, { volser: SOURCE, tracks: TRACKS }));
  await run("sync", []);
  const repeat = await measureGsc(systems, FULL_GSC);
  addGsc(add, "repeat", repeat);
  console.error(
    `run ${options.index + 1}/${RUNS}: GSC ${full.seconds.toFixed(2)} s, ` +
      `repeat ${repeat.seconds.toFixed(3)} s`,
  );
}

function printSteps(results: Results): void {
  const total = { full: median(results.full) * 1000, repeat: median(results.repeat) * 1000 };
  const cell = (prefix: "full" | "repeat", key: string) => {
    const ms = median(results[`${prefix}${key}`] ?? [0]);
    return `${ms.toFixed(0)} ms (${((ms / total[prefix]) * 100).toFixed(1)}%)`;
  };
  console.log("\n| step | first GSC, median (share) | repeated GSC, median (share) |");
  console.log("| --- | --- | --- |");
  const steps = Object.keys(results)
    .map((key) => /^fullStep(\d+)$/.exec(key)?.[1])
    .filter((step): step is string => step !== undefined)
    .sort((a, b) => Number(a) - Number(b));
  for (const step of steps) {
    const name = GSC_STEPS[Number(step) as GscStep] ?? "";
    console.log(
      `| ${step} ${name} | ${cell("full", `Step${step}`)} | ${cell("repeat", `Step${step}`)} |`,
    );
  }
  console.log(
    `| outside the steps (HTTP, queue, gaps between steps) | ${cell("full", "OutsideSteps")} | ${cell("repeat", "OutsideSteps")} |`,
  );
  console.log(
    `| total, POST to the job's end | ${total.full.toFixed(0)} ms | ${total.repeat.toFixed(0)} ms |`,
  );
}

function printTable(results: Results, rss: { name: string; fill: number; rest: number }[]): void {
  const gib = TOTAL_BYTES / GIB;
  const m = (key: string) => median(results[key]);
  const goal = (met: boolean, text: string) => `${text}: ${met ? "met" : "MISSED"}`;
  const full = m("full");
  console.log(
    `\nGSC benchmark: ${gib} GiB extent (${TRACKS} tracks) of random data, median of ${RUNS} ` +
      `runs, two gsnap serve processes on loopback, ${os.cpus().length} cores (a shared ` +
      "machine: noisy)\n",
  );
  console.log("| copy | time | rate | GSC speed against it | goal |");
  console.log("| --- | --- | --- | --- | --- |");
  const row = (name: string, seconds: number, goalText = "") => {
    const ratio = seconds / full;
    console.log(
      `| ${name} | ${seconds.toFixed(2)} s | ${(gib / seconds).toFixed(2)} GiB/s | ` +
        `${ratio.toFixed(2)}x | ${goalText === "" ? "" : goal(ratio >= 1, goalText)} |`,
    );
  };
  row("nbdcopy nbdkit file -> nbdkit file", m("nbdcopy"), ">= 1.0x");
  row("nbdcopy --flush nbdkit file -> nbdkit file", m("nbdcopyFlush"));
  row("gsnap GSC P -> P' -> S' -> S, POST to job end", full);
  row("gsnap GSC without S' (P -> P' -> S), one run", m("noTargetIntermediate"));
  const repeat = m("repeat");
  const share = repeat / full;
  const tracks = m("repeatTracks");
  console.log(
    `| gsnap GSC repeated after ${tracks} of ${TRACKS} tracks (1%) changed | ` +
      `${repeat.toFixed(3)} s | ${((tracks * TRACK_BYTES) / GIB / repeat).toFixed(2)} GiB/s | ` +
      `${(share * 100).toFixed(2)}% of the first | ${goal(share <= 0.03, "<= 3%")} |`,
  );
  console.log("\n| GSC | bytes sent (progress.bytesDone) | share of the extent |");
  console.log("| --- | --- | --- |");
  for (const [name, key] of [
    ["first", "fullBytes"],
    [`repeated after 1% changed (every ${CHANGE_TRACK_STRIDE}th track)`, "repeatBytes"],
    ["without S'", "noTargetIntermediateBytes"],
  ]) {
    const bytes = m(key);
    console.log(
      `| ${name} | ${(bytes / GIB).toFixed(4)} GiB (${bytes} B) | ` +
        `${((bytes / (TRACKS * TRACK_BYTES)) * 100).toFixed(2)}% |`,
    );
  }
  printSteps(results);
  printCpuTables(results, {
    totalBytes: TOTAL_BYTES,
    copies: [
      { name: "first GSC", prefix: "full", tracks: TRACKS, wholeExtent: true, goal: true },
      { name: "repeated GSC, 1% changed", prefix: "repeat", tracks, wholeExtent: false },
      {
        name: "GSC without S', one run",
        prefix: "noTargetIntermediate",
        tracks: TRACKS,
        wholeExtent: true,
      },
    ],
  });
  console.log(
    "\n| process | peak RSS while the source was filled | peak RSS during the measures | goal |",
  );
  console.log("| --- | --- | --- | --- |");
  for (const { name, fill, rest } of rss) {
    const daemon = name.startsWith("gsnap");
    const peak = Math.max(fill, rest);
    console.log(
      `| ${name} | ${fill.toFixed(0)} MiB | ${rest.toFixed(0)} MiB | ` +
        `${daemon ? goal(peak <= 300, "<= 300 MiB") : ""} |`,
    );
  }
}

const PROCESS_NAMES = [
  "gsnap serve, primary (source)",
  "gsnap serve, secondary (target)",
  "nbdkit file, source",
  "nbdkit file, target",
];

async function main(): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const results: Results = {};
  const add: Add = (key, value) => {
    results[key] ??= [];
    results[key].push(value);
  };
  try {
    const { systems, peers } = await startBench(dir, { totalBytes: TOTAL_BYTES, cleanups });
    const pids = [systems.primary, systems.secondary, peers.source, peers.target].map(
      (started) => started.child.pid,
    );
    await createVolume(systems.primary, {
      volser: SOURCE,
      ssid: PRIMARY.ssid,
      cylinders: CYLINDERS,
    });
    const fillUri = systems.primary.nbdUri(SOURCE);
    const fillSeconds = await timed("nbdcopy", ["--flush", peers.sourceFile, fillUri]);
    console.error(`filled ${SOURCE} in ${fillSeconds.toFixed(2)} s`);
    const fillRss = pids.map((pid) => peakRssMiB(pid));
    for (const pid of pids) resetPeakRss(pid);
    for (let i = 0; i < RUNS; i += 1) await gscRun({ systems, peers, index: i }, add);
    await freshTarget(systems);
    const direct = await measureGsc(systems, NO_TARGET_INTERMEDIATE_GSC);
    addGsc(add, "noTargetIntermediate", direct);
    console.error(`GSC without S': ${direct.seconds.toFixed(2)} s`);
    const rss = pids.map((pid, i) => ({
      name: PROCESS_NAMES[i],
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
