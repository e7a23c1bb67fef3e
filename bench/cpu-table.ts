// The CPU tables of the link and GSC benchmarks (bench/link.ts, bench/gsc.ts), from the costs that
// bench/measure-costs.ts recorded: what nbdcopy and both nbdkit servers spend on a copy, then what
// each gsnap daemon spends on each measured copy, per track, against nbdcopy, and its GCs.

import { median } from "./link-peers.js";
import { TRACK_BYTES } from "./link-systems.js";

/** Issue 12: both daemons may spend at most 1.5 times the CPU of nbdcopy and its two nbdkits. */
const CPU_GOAL_RATIO = 1.5;
const NBDCOPY_PARTS = ["cpuNbdcopy", "cpuSourceServer", "cpuTargetServer"];
const DAEMON_PARTS = ["cpuPrimary", "cpuSecondary"];

/** A gsnap copy measured with measureDaemons and recorded under `prefix`. */
export interface MeasuredCopy {
  readonly name: string;
  readonly prefix: string;
  /** Tracks the copy sends: all of them, or those changed before a resume or a repeated GSC. */
  readonly tracks: number;
  /** A copy of every track, which can be set against nbdcopy of the same bytes. */
  readonly wholeExtent: boolean;
  /** The copy that the goal of at most 1.5 times nbdcopy's CPU is checked on. */
  readonly goal?: boolean;
}

type Results = Record<string, number[]>;

/** The median over runs of the sum of `parts` in each run (runs are recorded in one order). */
function medianOfSums(results: Results, prefix: string, parts: string[]): number {
  const runs = results[`${prefix}.${parts[0]}`] ?? [];
  const sums = runs.map((_, run) =>
    parts.reduce((sum, part) => sum + results[`${prefix}.${part}`][run], 0),
  );
  return median(sums);
}

function printNbdcopy(results: Results, totalBytes: number): void {
  const m = (key: string) => median(results[key]);
  const tracks = totalBytes / TRACK_BYTES;
  console.log(
    "\n| CPU of nbdcopy runs | nbdcopy | nbdkit source | nbdkit target | summed | µs per track |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [name, prefix] of [
    ["nbdcopy nbdkit file -> nbdkit file", "nbdcopy"],
    ["nbdcopy --flush nbdkit file -> nbdkit file", "nbdcopyFlush"],
  ]) {
    const summed = medianOfSums(results, prefix, NBDCOPY_PARTS);
    const parts = NBDCOPY_PARTS.map((part) => `${m(`${prefix}.${part}`).toFixed(2)} s`);
    console.log(
      `| ${name} | ${parts.join(" | ")} | ${summed.toFixed(2)} s | ` +
        `${((summed / tracks) * 1e6).toFixed(0)} µs |`,
    );
  }
}

/** Prints the nbdcopy table, then one row per gsnap copy; medians over the runs. */
export function printCpuTables(
  results: Results,
  options: { totalBytes: number; copies: MeasuredCopy[] },
): void {
  const m = (key: string) => median(results[key]);
  const goal = (met: boolean) => `<= ${CPU_GOAL_RATIO}x: ${met ? "met" : "MISSED"}`;
  printNbdcopy(results, options.totalBytes);
  const plain = medianOfSums(results, "nbdcopy", NBDCOPY_PARTS);
  const flush = medianOfSums(results, "nbdcopyFlush", NBDCOPY_PARTS);
  console.log(
    "\n| CPU of gsnap copies | primary | secondary | summed | µs per track, primary / secondary | " +
      "summed against nbdcopy + nbdkits (plain / --flush) | goal | " +
      "GCs primary, minor / major | GCs secondary, minor / major |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const copy of options.copies) {
    const cost = (part: string) => m(`${copy.prefix}.${part}`);
    const summed = medianOfSums(results, copy.prefix, DAEMON_PARTS);
    const perTrack = (part: string) => ((cost(part) / copy.tracks) * 1e6).toFixed(0);
    const ratio = summed / plain;
    const gcs = (side: string) => `${cost(`gcMinor${side}`)} / ${cost(`gcMajor${side}`)}`;
    console.log(
      `| ${copy.name} | ${cost("cpuPrimary").toFixed(2)} s | ${cost("cpuSecondary").toFixed(2)} s | ` +
        `${summed.toFixed(2)} s | ${perTrack("cpuPrimary")} / ${perTrack("cpuSecondary")} µs | ` +
        `${copy.wholeExtent ? `${ratio.toFixed(2)}x / ${(summed / flush).toFixed(2)}x` : ""} | ` +
        `${copy.goal === true ? goal(ratio <= CPU_GOAL_RATIO) : ""} | ` +
        `${gcs("Primary")} | ${gcs("Secondary")} |`,
    );
  }
  console.log(
    "\nCPU is user + system time from /proc/PID/stat (all threads, in clock ticks) from the start to " +
      "the end of each copy, the API calls that start and watch it included; nbdcopy's is its own " +
      "rusage once it ended; summed cells are medians of each run's sum. GCs are the differences " +
      "of each daemon's nodejs_gc_duration_seconds_count over the copy.",
  );
}
