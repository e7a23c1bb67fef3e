// Two storage systems in this process for GSC tests: VOL001 on the primary (01A0) and VOL900 on
// the secondary (01B0), both of 20 cylinders filled with random data, the path between them up;
// stopped after each test. And what every GSC test checks at the end: nothing of a job is left.

import { randomBytes } from "node:crypto";
import { afterEach, expect } from "vitest";
import type { TestPause } from "../gsc/gsc-runner.js";
import type { JobInfo } from "../gsc/job-service.js";
import { type PairSystems, SECONDARY_SERIAL, startPairSystems } from "./pair-systems.js";

export const TRACK = 57_344;
export const CYLINDERS = 20;
export const TRACKS = CYLINDERS * 15;
/** The target subsystem, as a GSC names it: `${S}.VOL900`. */
export const S = `${SECONDARY_SERIAL}.01B0`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts both systems with their volumes; they stop after the test. */
export async function gscSystems(options: { pauseAt?: TestPause } = {}): Promise<PairSystems> {
  const both = await startPairSystems(options);
  cleanups.push(
    () => both.secondary.stop(),
    () => both.primary.stop(),
  );
  const { primary, secondary } = both;
  await primary.store.createVolume({ volser: "VOL001", ssid: "01A0", cylinders: CYLINDERS });
  await primary.store.write("VOL001", { offsetBytes: 0, data: randomBytes(TRACKS * TRACK) });
  await secondary.store.createVolume({ volser: "VOL900", ssid: "01B0", cylinders: CYLINDERS });
  await secondary.store.write("VOL900", { offsetBytes: 0, data: randomBytes(TRACKS * TRACK) });
  return both;
}

/** Stops `stop` after the test too (a system started again in it). */
export function stopAfterTest(stop: () => Promise<void>): void {
  cleanups.push(stop);
}

/** The byte range of `count` tracks from `first`. */
export function tracks(first: number, count: number) {
  return { offsetBytes: first * TRACK, lengthBytes: count * TRACK };
}

/** Nothing of the job is left: no pair on either side, no allocated volume, no reservation. */
export function expectClean(both: PairSystems, job: JobInfo): void {
  expect(both.primary.pairs.list()).toEqual([]);
  expect(both.secondary.pairs.list()).toEqual([]);
  const names = (volumes: { volser: string }[]) => volumes.map((volume) => volume.volser).sort();
  expect(names(both.primary.store.listVolumes()).filter((v) => v.startsWith("#"))).toEqual([]);
  expect(names(both.secondary.store.listVolumes()).filter((v) => v.startsWith("#"))).toEqual([]);
  expect(job.steps.map((step) => step.step)).toContain(522);
}
