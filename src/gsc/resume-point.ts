// Where a GSC job found unended at start goes on from (docs/gsc.md, "Restarts resume"). The job's
// record tells the steps it completed; the record is written lazily, so after a crash it may lag
// what ran (never lead it), and every step is safe to run again from an earlier point:
//
//   last completed   goes on from   because
//   (none), 500      502            RESERVE answers what the job already holds
//   502              506            P' is created unless the job's P' is there, then snapped again
//   506 ... 512      508            the checksums read at 508 are gone with the process: the pair
//                                   is made again from a compare, so only the tracks the target
//                                   still lacks are sent (what a repeated GSC does)
//   514, 516         516            the target's copy was checked; with S' the snap follows
//   518              520            the snap S' -> S is done; 520 checks the whole target extent
//   520              522            the target reached its final state: the job succeeded
//
// A pair of P' on this system means 506 ended (the pair is made after it), whatever the record
// says. A job that was cancelled, or whose runner had already stopped with a failure, is not run
// again: it is cleaned up and ends as it would have. A job that needs P' and finds it gone fails
// with GSC_INTERMEDIATE_LOST: the snap it held is lost, and taking a new one would copy another
// point in time than the job's first steps reported. Pure.

import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import type { JobRef } from "../store/volume-record.js";
import type { GscPlan } from "./gsc-plan.js";
import { GSC_STEPS, type GscStep, type JobInfo, type StepRecord } from "./job-service.js";

/** What the system finds of the job at start, besides its record. */
export interface ResumeFacts {
  /** P' is here (and, for an allocated one, marked as this job's). */
  readonly intermediateExists: boolean;
  /** P' is the primary of a pair here: the job's own, made at 508. */
  readonly intermediatePaired: boolean;
}

/**
 * The facts of P', from the volume of its name (if any) and whether it is a pair's primary: an
 * allocated P' counts only when it carries this job's mark (another volume may have its name).
 */
export function intermediateFacts(
  record: { readonly info: JobInfo; readonly plan: GscPlan },
  found: {
    readonly volume?: { readonly job?: JobRef };
    readonly paired: boolean;
    readonly serial: string;
  },
): ResumeFacts {
  const { volume } = found;
  const owned =
    !record.plan.intermediate.auto ||
    (volume?.job?.id === record.info.id && volume.job.serial === found.serial);
  return { intermediateExists: volume !== undefined && owned, intermediatePaired: found.paired };
}

export type ResumeDecision =
  /** The job never left the queue: it waits there again. */
  | { readonly kind: "queue" }
  /**
   * The job runs again from `fromStep`; `pairOpened`: the pair may have been made already, so S'
   * holds tracks of the copy and must not be snapped over from S again.
   */
  | { readonly kind: "resume"; readonly fromStep: GscStep; readonly pairOpened: boolean }
  /** The job is cleaned up and ends so. */
  | {
      readonly kind: "end";
      readonly state: "failed" | "cancelled";
      readonly code: ErrorCode;
      readonly message: string;
    };

/** The step each last completed step leads to (see the table above). */
const NEXT_STEP: Readonly<Record<number, GscStep>> = {
  500: 502,
  502: 506,
  506: 508,
  508: 508,
  510: 508,
  512: 508,
  514: 516,
  516: 516,
  518: 520,
  520: 522,
};

/** The steps that read P': the compare and the copy, and the checks of the snap into S. */
const NEEDS_INTERMEDIATE: readonly GscStep[] = [508, 518, 520];

export function resumePoint(
  job: {
    readonly info: JobInfo;
    readonly plan: GscPlan;
    readonly cancelRequested?: boolean;
  },
  facts: ResumeFacts,
): ResumeDecision {
  const { info, plan } = job;
  const stopped = `The system stopped during step ${info.step} (${GSC_STEPS[info.step]})`;
  if (job.cancelRequested === true || info.state === "queued") {
    if (job.cancelRequested === true) {
      return {
        kind: "end",
        state: "cancelled",
        code: "GSC_CANCELLED",
        message: `Job ${info.id} was cancelled; ${stopped.toLowerCase()} and the job was cleaned up`,
      };
    }
    return { kind: "queue" };
  }
  const failure = failureOf(info.steps);
  if (failure !== undefined) {
    return {
      kind: "end",
      state: failure.code === "GSC_CANCELLED" ? "cancelled" : "failed",
      ...failure,
    };
  }
  const last = lastCompletedStep(info.steps);
  let fromStep = NEXT_STEP[last] ?? 522;
  if (fromStep === 516 && plan.targetIntermediate !== undefined) fromStep = 518;
  if (info.steps.some((record) => record.step === 522) && fromStep !== 522) {
    // Clean-up had begun, so the runner had stopped, with a result the record lost.
    return {
      kind: "end",
      state: "failed",
      code: "GSC_TRANSFER_FAILED",
      message: `${stopped}; the job was cleaned up`,
    };
  }
  if (facts.intermediatePaired && fromStep < 508) fromStep = 508;
  if (NEEDS_INTERMEDIATE.includes(fromStep) && !facts.intermediateExists) {
    return {
      kind: "end",
      state: "failed",
      code: "GSC_INTERMEDIATE_LOST",
      message: `Cannot resume job ${info.id} at step ${fromStep} (${GSC_STEPS[fromStep]}): its intermediate ${plan.intermediate.volser ?? "P'"} holding the snap of ${plan.source.volser} is gone; run the GSC again`,
    };
  }
  const pairOpened = facts.intermediatePaired || info.steps.some((record) => record.step >= 508);
  return { kind: "resume", fromStep, pairOpened };
}

/**
 * The highest step of 500..520 that ended, every step before it having ended too: a step that
 * ran again after a resume has records of both runs, and the last one counts.
 */
export function lastCompletedStep(steps: readonly StepRecord[]): GscStep {
  const ended = new Map<number, boolean>();
  for (const record of steps) ended.set(record.step, record.endedAt !== undefined);
  let last: GscStep = 500;
  // In step order (integer keys are); without S' the job has no 518 and 520, so 516 is last.
  for (const step of Object.keys(NEXT_STEP).map(Number) as GscStep[]) {
    if (ended.get(step) !== true) break;
    last = step;
  }
  return last;
}

/** The failure a step's note records ("CODE: message", written when the runner stopped). */
function failureOf(steps: readonly StepRecord[]): { code: ErrorCode; message: string } | undefined {
  for (const record of steps) {
    const found = /^([A-Z][A-Z0-9_]*): (.*)$/s.exec(record.note ?? "");
    if (found !== null && found[1] in ERROR_CODES) {
      return { code: found[1] as ErrorCode, message: found[2] };
    }
  }
  return undefined;
}
