import { describe, expect, it } from "vitest";
import type { JobInfo } from "../gsc/job-service.js";
import { exampleJob } from "../testing/memory-jobs.js";
import { JobOutcomes } from "./job-outcomes.js";

const START_MS = Date.parse("2026-03-01T12:00:00.000Z");
const AFTER = "2026-03-01T12:05:00.000Z";

function ended(id: string, state: "succeeded" | "failed" | "cancelled", endedAt = AFTER): JobInfo {
  return exampleJob(id, { state, step: 524, endedAt });
}

describe("JobOutcomes", () => {
  it("starts every result at zero", () => {
    expect(new JobOutcomes(START_MS).update([])).toEqual({ succeeded: 0, failed: 0, cancelled: 0 });
  });

  it("counts each job once, when it has ended, whatever the scrapes see after", () => {
    const outcomes = new JobOutcomes(START_MS);
    expect(outcomes.update([exampleJob("J000001", { state: "running" })])).toMatchObject({
      failed: 0,
    });
    const jobs = [ended("J000001", "failed"), ended("J000002", "succeeded")];
    expect(outcomes.update(jobs)).toEqual({ succeeded: 1, failed: 1, cancelled: 0 });
    expect(outcomes.update(jobs)).toEqual({ succeeded: 1, failed: 1, cancelled: 0 });
    expect(outcomes.update([ended("J000003", "cancelled"), ...jobs])).toEqual({
      succeeded: 1,
      failed: 1,
      cancelled: 1,
    });
  });

  it("leaves out jobs that ended before the system started", () => {
    const outcomes = new JobOutcomes(START_MS);
    const before = ended("J000001", "failed", "2026-03-01T11:59:59.999Z");
    expect(outcomes.update([before, ended("J000002", "failed")])).toMatchObject({ failed: 1 });
  });

  it("keeps its totals when the list drops old jobs", () => {
    const outcomes = new JobOutcomes(START_MS);
    outcomes.update([ended("J000001", "failed"), ended("J000002", "failed")]);
    expect(outcomes.update([ended("J000003", "succeeded")])).toEqual({
      succeeded: 1,
      failed: 2,
      cancelled: 0,
    });
  });

  it("refuses an ended job without its end time as a programmer error", () => {
    const outcomes = new JobOutcomes(START_MS);
    expect(() => outcomes.update([exampleJob("J000001", { state: "failed" })])).toThrow(/ended/);
  });
});
