// Which job states are final. A job moves queued → running → succeeded | failed | cancelled (a
// queued job may be cancelled at once); the last three never change again.

import type { JobInfo, JobState } from "./job-service.js";

export const ENDED_JOB_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled"];

export function isEndedState(state: JobState): boolean {
  return ENDED_JOB_STATES.includes(state);
}

/** True once the job has ended: nothing about it changes any more. */
export function isJobEnded(job: JobInfo): boolean {
  return isEndedState(job.state);
}
