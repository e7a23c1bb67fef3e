// What a copy costs each side, for the link and GSC benchmarks (bench/link.ts, bench/gsc.ts): the
// CPU seconds and garbage collections of both `gsnap serve` processes while a gsnap copy runs, and
// the CPU seconds of nbdcopy and of both nbdkit servers while nbdcopy runs. The results are kept
// under a prefix, one key per cost, so that the benchmarks take their medians like any other.

import assert from "node:assert/strict";
import { cpuSeconds, waitedChildrenCpuSeconds } from "./cpu-usage.js";
import { gcCounts, gcCountsSince } from "./gc-counts.js";
import { freshPeerTarget, timed } from "./link-peers.js";
import type { Peers, Systems } from "./link-systems.js";

export type Add = (key: string, value: number) => void;

/** CPU seconds and collections of each daemon during one gsnap copy. */
export interface DaemonCosts {
  readonly cpuPrimary: number;
  readonly cpuSecondary: number;
  readonly gcMinorPrimary: number;
  readonly gcMajorPrimary: number;
  readonly gcMinorSecondary: number;
  readonly gcMajorSecondary: number;
}

/** CPU seconds of nbdcopy and of each nbdkit server during one nbdcopy run. */
export interface NbdcopyCosts {
  readonly cpuNbdcopy: number;
  readonly cpuSourceServer: number;
  readonly cpuTargetServer: number;
}

function pidOf(child: { pid?: number }): number {
  assert(child.pid !== undefined, "a measured process must have started");
  return child.pid;
}

/**
 * Runs `copy` and answers its result with what it cost both daemons. The GC counts are read
 * outside the CPU readings, so that the scrapes do not count as the copy's CPU.
 */
export async function measureDaemons<T>(
  systems: Systems,
  copy: () => Promise<T>,
): Promise<{ result: T; costs: DaemonCosts }> {
  const pids = [pidOf(systems.primary.child), pidOf(systems.secondary.child)];
  const gcBefore = await Promise.all([gcCounts(systems.primary), gcCounts(systems.secondary)]);
  const cpuBefore = pids.map(cpuSeconds);
  const result = await copy();
  const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuBefore[i]);
  const gcAfter = await Promise.all([gcCounts(systems.primary), gcCounts(systems.secondary)]);
  const [gcPrimary, gcSecondary] = gcAfter.map((after, i) => gcCountsSince(gcBefore[i], after));
  const costs: DaemonCosts = {
    cpuPrimary: cpu[0],
    cpuSecondary: cpu[1],
    gcMinorPrimary: gcPrimary.minor,
    gcMajorPrimary: gcPrimary.major,
    gcMinorSecondary: gcSecondary.minor,
    gcMajorSecondary: gcSecondary.major,
  };
  return { result, costs };
}

/**
 * Runs nbdcopy with `args` to its end between the two nbdkit servers; answers its wall time and
 * costs. nbdcopy's CPU is the growth of this process's waited-for children time, since nbdcopy is
 * the only child that ends meanwhile.
 */
async function measureNbdcopy(
  peers: Peers,
  args: string[],
): Promise<{ seconds: number; costs: NbdcopyCosts }> {
  const pids = [pidOf(peers.source.child), pidOf(peers.target.child)];
  const serversBefore = pids.map(cpuSeconds);
  const nbdcopyBefore = waitedChildrenCpuSeconds();
  const seconds = await timed("nbdcopy", args);
  const cpuNbdcopy = waitedChildrenCpuSeconds() - nbdcopyBefore;
  const servers = pids.map((pid, i) => cpuSeconds(pid) - serversBefore[i]);
  return {
    seconds,
    costs: { cpuNbdcopy, cpuSourceServer: servers[0], cpuTargetServer: servers[1] },
  };
}

/**
 * nbdcopy from the source nbdkit server to a fresh target, plain and with --flush: their seconds
 * under "nbdcopy" and "nbdcopyFlush", their costs under the same prefixes.
 */
export async function measureNbdcopyRuns(
  peers: Peers,
  options: { totalBytes: number; add: Add },
): Promise<void> {
  const { totalBytes, add } = options;
  for (const [key, flags] of [
    ["nbdcopy", []],
    ["nbdcopyFlush", ["--flush"]],
  ] as const) {
    await freshPeerTarget(peers.targetFile, totalBytes);
    const { seconds, costs } = await measureNbdcopy(peers, [
      ...flags,
      peers.source.uri,
      peers.target.uri,
    ]);
    add(key, seconds);
    addCosts(add, key, costs);
  }
}

/** Records each cost as `${prefix}.${name}`. */
export function addCosts(add: Add, prefix: string, costs: DaemonCosts | NbdcopyCosts): void {
  for (const [name, value] of Object.entries(costs)) add(`${prefix}.${name}`, value);
}
