// Where a job found unended at start goes on from: the last completed step of its record, moved
// on by what the system finds (P', P''s pair), or an end when it was cancelled, had failed, or
// lost its P'. And what a restart makes of its record.

import { describe, expect, it } from "vitest";
import type { GscPlan } from "./gsc-plan.js";
import type { JobRecord } from "./job-record.js";
import { restartJob } from "./job-restart.js";
import type { GscStep, JobInfo, StepRecord } from "./job-service.js";
import { lastCompletedStep, resumePoint } from "./resume-point.js";

const AT = "2026-01-01T00:00:00.000Z";

const PLAN: GscPlan = {
  source: { volser: "VOL001", ssid: "01A0", extents: "0.0-1.14" },
  intermediate: { volser: "#PABCD", auto: true },
  target: { serial: "0000000002", ssid: "01B0", volser: "VOL900", extents: "10.0-11.14" },
  targetIntermediate: { volser: "#TABCD", auto: true },
  pairGeometry: { cylinders: 20, trackSizeBytes: 57_344 },
  tracks: 30,
  trackSizeBytes: 57_344,
};
const WITHOUT_S2: GscPlan = { ...PLAN, targetIntermediate: undefined };

/** Records of `ended` steps (ended) and then `open` (running). */
function steps(ended: GscStep[], open?: GscStep, note?: string): StepRecord[] {
  const records: StepRecord[] = ended.map((step) => ({
    step,
    name: "",
    startedAt: AT,
    endedAt: AT,
    note: step === 516 ? "yes: #TABCD" : "done",
  }));
  if (open !== undefined) {
    records.push({ step: open, name: "", startedAt: AT, ...(note === undefined ? {} : { note }) });
  }
  return records;
}

function job(
  records: StepRecord[],
  options: { plan?: GscPlan; state?: JobInfo["state"]; cancelRequested?: boolean } = {},
): JobRecord {
  const info: JobInfo = {
    id: "J000007",
    request: { source: "VOL001:0.0-1.14", intermediate: "*", target: "0000000002.01B0.VOL900" },
    state: options.state ?? "running",
    step: records.at(-1)?.step ?? 500,
    steps: records,
    progress: {
      tracksTotal: 30,
      tracksDone: 0,
      bytesTotal: 0,
      bytesDone: 0,
      rateBytesPerSecond: 0,
      etaSeconds: null,
    },
    createdAt: AT,
  };
  return {
    info,
    plan: options.plan ?? PLAN,
    cleanupPending: false,
    cancelRequested: options.cancelRequested,
  };
}

const HERE = { intermediateExists: true, intermediatePaired: false };
const PAIRED = { intermediateExists: true, intermediatePaired: true };
const NONE = { intermediateExists: false, intermediatePaired: false };

describe("resumePoint", () => {
  it.each<[string, GscStep[], GscStep | undefined, GscStep]>([
    ["accepted, not reserved", [500], 502, 502],
    ["reserved", [500, 502], 506, 506],
    ["snapped", [500, 502, 506], 508, 508],
    ["paired", [500, 502, 506, 508], 510, 508],
    ["copied", [500, 502, 506, 508, 510], 512, 508],
    ["flushed", [500, 502, 506, 508, 510, 512], 514, 508],
    ["checked", [500, 502, 506, 508, 510, 512, 514], 516, 518],
    ["S' said", [500, 502, 506, 508, 510, 512, 514, 516], 518, 518],
    ["snapped into S", [500, 502, 506, 508, 510, 512, 514, 516, 518], 520, 520],
    ["S checked", [500, 502, 506, 508, 510, 512, 514, 516, 518, 520], undefined, 522],
  ])("goes on from the step after the last completed one (%s)", (_, ended, open, from) => {
    const decision = resumePoint(job(steps(ended, open)), HERE);
    expect(decision).toMatchObject({ kind: "resume", fromStep: from });
  });

  it("goes on from 516 without S' once the copy was checked, and succeeds from there", () => {
    const checked = steps([500, 502, 506, 508, 510, 512, 514]);
    expect(resumePoint(job(checked, { plan: WITHOUT_S2 }), HERE)).toMatchObject({
      kind: "resume",
      fromStep: 516,
    });
  });

  it("takes a pair of P' for proof that 506 ended, whatever the lagging record says", () => {
    const decision = resumePoint(job(steps([500, 502], 506)), PAIRED);
    expect(decision).toEqual({ kind: "resume", fromStep: 508, pairOpened: true });
  });

  it("says the pair may be open once 508 began, so S' is not snapped over again", () => {
    expect(resumePoint(job(steps([500, 502, 506], 508)), HERE)).toMatchObject({
      pairOpened: true,
    });
    expect(resumePoint(job(steps([500, 502], 506)), HERE)).toMatchObject({ pairOpened: false });
  });

  it("puts a queued job back in the queue", () => {
    expect(resumePoint(job(steps([500]), { state: "queued" }), NONE)).toEqual({ kind: "queue" });
  });

  it("ends a job that was cancelled with GSC_CANCELLED rather than resuming it", () => {
    const decision = resumePoint(
      job(steps([500, 502, 506, 508], 510), { cancelRequested: true }),
      PAIRED,
    );
    expect(decision).toMatchObject({ kind: "end", state: "cancelled", code: "GSC_CANCELLED" });
  });

  it("ends a job whose runner had failed with the failure its record holds", () => {
    const failed = steps([500, 502, 506, 508, 510, 512], 514, "x");
    failed[failed.length - 1] = {
      ...failed[failed.length - 1],
      endedAt: AT,
      note: "GSC_VERIFY_MISMATCH: The target's VOL900 differs",
    };
    expect(resumePoint(job(failed), PAIRED)).toEqual({
      kind: "end",
      state: "failed",
      code: "GSC_VERIFY_MISMATCH",
      message: "The target's VOL900 differs",
    });
  });

  it("fails with GSC_INTERMEDIATE_LOST a job that needs P' and finds it gone", () => {
    for (const ended of [
      [500, 502, 506],
      [500, 502, 506, 508, 510, 512, 514, 516, 518],
    ] as GscStep[][]) {
      const decision = resumePoint(job(steps(ended)), NONE);
      expect(decision).toMatchObject({ kind: "end", code: "GSC_INTERMEDIATE_LOST" });
      expect(decision.kind === "end" && decision.message).toMatch(/#PABCD .* is gone/);
    }
  });

  it("needs no P' before it is made, nor once the target is final", () => {
    expect(resumePoint(job(steps([500, 502])), NONE)).toMatchObject({ fromStep: 506 });
    const final = steps([500, 502, 506, 508, 510, 512, 514, 516, 518, 520]);
    expect(resumePoint(job(final), NONE)).toMatchObject({ kind: "resume", fromStep: 522 });
  });

  it("fails a job stopped in its clean-up before the target was final", () => {
    const cleaning = steps([500, 502, 506, 508], 522);
    expect(resumePoint(job(cleaning), PAIRED)).toMatchObject({
      kind: "end",
      code: "GSC_TRANSFER_FAILED",
    });
  });
});

describe("lastCompletedStep", () => {
  it("counts a step run again after a resume by its last run", () => {
    const records = steps([500, 502, 506, 508, 510, 512]);
    records.push({ step: 508, name: "", startedAt: AT });
    expect(lastCompletedStep(records)).toBe(506);
  });
});

describe("restartJob", () => {
  it("runs a resumed job again, its cut steps ended and the resumption recorded", () => {
    const record = job(steps([500, 502, 506, 508], 510));
    const decision = resumePoint(record, PAIRED);
    const { record: restarted, run } = restartJob(record, decision, AT);
    expect(run).toEqual({ fromStep: 508, pairOpened: true });
    expect(restarted.info.state).toBe("running");
    expect(restarted.info.resumed).toEqual([{ at: AT, fromStep: 508, after: "system restart" }]);
    expect(restarted.info.steps.every((step) => step.endedAt !== undefined)).toBe(true);
    expect(restarted.info.steps.at(-1)?.note).toMatch(/^interrupted: .*from step 508/);
  });

  it("ends a job that cannot resume, its clean-up pending", () => {
    const record = job(steps([500, 502, 506]));
    const { record: ended, run } = restartJob(record, resumePoint(record, NONE), AT);
    expect(run).toBeUndefined();
    expect(ended.cleanupPending).toBe(true);
    expect(ended.info).toMatchObject({ state: "failed", resultCode: "GSC_INTERMEDIATE_LOST" });
  });
});
