// What the job manager writes to disk and when: a job costs two synced writes (accepted, ended),
// its steps reach the log unsynced, and a restart finds a running job there and resumes it from
// its last completed step, to the end. An allocated P' is named when the job is accepted, never one promised
// to another job, and a volume that took the name meanwhile is left alone.

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { gate } from "../testing/gate.js";
import {
  CYLINDERS,
  expectClean,
  gscSystems,
  S,
  stopAfterTest,
  TRACK,
  tracks,
} from "../testing/gsc-systems.js";
import { PRIMARY_SERIAL, startTestSystem } from "../testing/pair-systems.js";
import { JOB_LOG_NAME, LAZY_SAVE_MS } from "./job-file.js";
import type { JobRecord } from "./job-record.js";
import type { JobInfo } from "./job-service.js";
import { isJobEnded } from "./job-states.js";

const REQUEST = {
  source: "VOL001:0.0-1.14",
  intermediate: "*",
  target: `${S}.VOL900:10.0-11.14`,
  targetIntermediate: "*",
};

async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (!done()) throw new Error(`${what} did not happen within 10 s`);
}

/** The P' a job will use, as its 500 record tells. */
function intermediateOf(job: JobInfo): string {
  const named = /P' will be (\S+)$/.exec(job.steps[0].note ?? "");
  if (named === null) throw new Error(`job ${job.id} names no P': ${job.steps[0].note}`);
  return named[1];
}

/** The job as the last line of the jobs log holds it. */
function loggedJob(dataDir: string, id: string): JobRecord | undefined {
  const lines = fs.readFileSync(path.join(dataDir, JOB_LOG_NAME), "utf8").split("\n");
  const jobs = lines.filter((line) => line !== "").map((line) => JSON.parse(line).job);
  return jobs.filter((job: JobRecord) => job.info.id === id).at(-1);
}

describe("job manager on disk", () => {
  it("syncs the jobs file twice for a job: when it is accepted and when it ended", async () => {
    const both = await gscSystems();
    const { primary } = both;
    const before = primary.jobs.fileSyncs;
    const started = await primary.jobs.start(REQUEST);
    expect(primary.jobs.fileSyncs).toBe(before + 1);
    const job = await primary.jobs.wait(started.id);
    expect(job.state).toBe("succeeded");
    expect(primary.jobs.fileSyncs).toBe(before + 2);
    // The synced end holds every step record.
    expect(loggedJob(primary.dataDir, job.id)?.info.steps.map((step) => step.step)).toEqual(
      job.steps.map((step) => step.step),
    );
    expectClean(both, job);
  });

  it("writes a running job's steps unsynced, and a restart resumes it from its last completed step", async () => {
    const both = await gscSystems({ pauseAt: { step: 510 } });
    const { primary, secondary } = both;
    const started = await primary.jobs.start(REQUEST);
    const syncs = primary.jobs.fileSyncs;
    await until("step 510", () => primary.jobs.show(started.id).step === 510);
    // The lazy save lands on its own, without a sync.
    await vi.waitFor(
      () =>
        expect(loggedJob(primary.dataDir, started.id)?.info).toMatchObject({
          state: "running",
          step: 510,
        }),
      { timeout: LAZY_SAVE_MS + 5_000 },
    );
    expect(primary.jobs.fileSyncs).toBe(syncs);
    expect(secondary.pairs.list()).toHaveLength(1);

    // The system stops in the job's middle and starts again on its data.
    await primary.stop();
    const again = await startTestSystem({
      serial: PRIMARY_SERIAL,
      ssid: "01A0",
      dataDir: primary.dataDir,
    });
    stopAfterTest(() => again.stop());
    const resumed = again.jobs.show(started.id);
    expect(resumed.state).toBe("running");
    expect(resumed.resumed).toEqual([
      { at: expect.any(String), fromStep: 508, after: "system restart" },
    ]);
    // The step the stop cut short ended there, saying so.
    expect(resumed.steps.find((step) => step.step === 510)?.note).toMatch(
      /^interrupted: the system stopped; the job resumed from step 508/,
    );
    const job = await again.jobs.wait(started.id);
    expect(job).toMatchObject({ state: "succeeded", resultCode: "OK" });
    expect(job.steps.map((step) => step.step)).toEqual([
      500, 502, 506, 508, 510, 508, 510, 512, 514, 516, 518, 520, 522, 524,
    ]);
    const source = await again.store.read("VOL001", tracks(0, 30));
    expect((await secondary.store.read("VOL900", tracks(150, 30))).equals(source)).toBe(true);
    // Nothing left on either side once the clean-up ran.
    expectClean({ primary: again, secondary }, job);
  });

  it("names an allocated P' when it accepts a job, never one promised to another job", async () => {
    const both = await gscSystems({ pauseAt: { step: 502 } });
    const { primary } = both;
    // The first two draws name the same P': the second job must draw again.
    vi.spyOn(Math, "random").mockReturnValueOnce(0.5).mockReturnValueOnce(0.5);
    const first = await primary.jobs.start(REQUEST);
    const second = await primary.jobs.start({
      ...REQUEST,
      source: "VOL001:5.0-6.14",
      target: `${S}.VOL900:15.0-16.14`,
    });
    vi.restoreAllMocks();
    expect(intermediateOf(first)).toMatch(/^#P[0-9A-Z]{4}$/);
    expect(intermediateOf(second)).not.toBe(intermediateOf(first));
    const ended = await Promise.all([first, second].map((job) => primary.jobs.cancel(job.id)));
    expect(ended.every(isJobEnded)).toBe(true);
    expectClean(both, ended[1]);
  });

  it("fails with GSC_VOLUME_BUSY, leaving the volume alone, when P''s name was taken after the job was accepted", async () => {
    // The job waits at step 502 until the volume is made, however long that takes.
    const taken = gate();
    const both = await gscSystems({ pauseAt: { step: 502, until: taken.until } });
    const { primary } = both;
    const started = await primary.jobs.start(REQUEST);
    const name = intermediateOf(started);
    // An operator makes a volume of that name before the job creates it.
    await primary.store.createVolume({ volser: name, ssid: "01A0", cylinders: CYLINDERS });
    const data = Buffer.alloc(TRACK, 0x5a);
    await primary.store.write(name, { offsetBytes: 0, data });
    taken.open();
    const job = await primary.jobs.wait(started.id);
    expect(job).toMatchObject({ state: "failed", resultCode: "GSC_VOLUME_BUSY" });
    expect(job.resultMessage).toMatch(new RegExp(`Cannot create P' \\${name}`));
    // The step it failed in ended, saying why; none shows as running.
    expect(job.steps.every((step) => step.endedAt !== undefined)).toBe(true);
    expect(job.steps.find((step) => step.step === 506)?.note).toMatch(/^GSC_VOLUME_BUSY: Cannot /);
    expect((await primary.store.read(name, tracks(0, 1))).equals(data)).toBe(true);
    expect(both.primary.pairs.list()).toEqual([]);
    expect(both.secondary.store.listVolumes().filter((v) => v.volser.startsWith("#"))).toEqual([]);
    // The record no longer names it, so no later clean-up deletes it either.
    expect(loggedJob(primary.dataDir, job.id)?.plan.intermediate.volser).toBeUndefined();
  });
});
