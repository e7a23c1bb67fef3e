// Which job states are final. A job moves queued → running → succeeded | failed | cancelled (a
// queued job may be cancelled at once); the last three never change again.

import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import {
  GSC_STEPS,
  type GscStep,
  type JobInfo,
  type JobProgress,
  type JobService,
  type JobState,
  type StepRecord,
} from "./job-service.js";

export const ENDED_JOB_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled"];

export function isEndedState(state: JobState): boolean {
  return ENDED_JOB_STATES.includes(state);
}

/** True once the job has ended: nothing about it changes any more. */
export function isJobEnded(job: JobInfo): boolean {
  return isEndedState(job.state);
}

/** Resolves with the job once it has ended; `JobService.wait` for any service that can watch. */
export function whenJobEnded(
  jobs: Pick<JobService, "show" | "watch">,
  id: string,
): Promise<JobInfo> {
  const job = jobs.show(id);
  if (isJobEnded(job)) return Promise.resolve(job);
  return new Promise((resolve) => {
    const stop = jobs.watch(id, (changed) => {
      if (!isJobEnded(changed)) return;
      stop();
      resolve(changed);
    });
  });
}

/** The progress of a job that has not started copying `tracks` tracks. */
export function emptyProgress(tracks: number): JobProgress {
  return {
    tracksTotal: tracks,
    tracksDone: 0,
    bytesTotal: 0,
    bytesDone: 0,
    rateBytesPerSecond: 0,
    etaSeconds: null,
  };
}

/** `info` ended `at` in `state` with a result; a code not in the error list becomes INTERNAL. */
export function endedJob(
  info: JobInfo,
  end: { state: "succeeded" | "failed" | "cancelled"; code: string; message: string; at: string },
): JobInfo {
  const code = end.code === "OK" || end.code in ERROR_CODES ? end.code : "INTERNAL";
  return {
    ...info,
    state: end.state,
    endedAt: end.at,
    resultCode: code as "OK" | ErrorCode,
    resultMessage: end.message,
  };
}

/** `steps` with every step still open ended `at` with `note`: a job that ends leaves none running. */
export function endOpenSteps(steps: readonly StepRecord[], at: string, note: string): StepRecord[] {
  return steps.map((step) => (step.endedAt === undefined ? { ...step, endedAt: at, note } : step));
}

/**
 * `steps` with a step's start (a new record) or end (its last record closed with `note`; a step
 * ended without a start record gets one that starts and ends `at`).
 */
export function withStepRecord(
  steps: readonly StepRecord[],
  change: { step: GscStep; event: "start" | "end"; at: string; note?: string },
): StepRecord[] {
  const { step, at, note } = change;
  const records = [...steps];
  if (change.event === "start") {
    records.push({ step, name: GSC_STEPS[step], startedAt: at });
    return records;
  }
  let index = records.length - 1;
  while (index >= 0 && records[index].step !== step) index -= 1;
  const open: StepRecord =
    index >= 0 ? records[index] : { step, name: GSC_STEPS[step], startedAt: at };
  const closed = { ...open, endedAt: at, ...(note === undefined ? {} : { note }) };
  if (index >= 0) records[index] = closed;
  else records.push(closed);
  return records;
}
