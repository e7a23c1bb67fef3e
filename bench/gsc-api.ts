// The gsnap job API as the GSC benchmark (bench/gsc.ts) uses it: start a global snap copy and
// wait for its job to end, timed from the POST to the answer that shows it ended.

import type { GscRequest, JobInfo } from "../src/gsc/job-service.js";
import type { ServeProcess } from "../src/testing/serve-process.js";
import { secondsSince } from "./link-peers.js";
import { api } from "./pair-api.js";

/** The longest long poll the API allows (MAX_WAIT_SECONDS); a wait past it polls again. */
const WAIT_SECONDS = 300;
/** 30 minutes, 2 GiB at 1.1 MiB/s: a job that has not ended by then is stuck. */
const JOB_TIMEOUT_MS = 30 * 60_000;

const ENDED = new Set(["succeeded", "failed", "cancelled"]);

/** Starts a GSC on `server` and waits for its job; a job that does not succeed throws with it. */
export async function runGsc(
  server: ServeProcess,
  request: GscRequest,
): Promise<{ seconds: number; job: JobInfo }> {
  const start = process.hrtime.bigint();
  const started = await api<JobInfo>(server, { method: "POST", path: "/v1/gsc", body: request });
  let job = started;
  while (!ENDED.has(job.state)) {
    if (secondsSince(start) * 1000 > JOB_TIMEOUT_MS) {
      throw new Error(`GSC job ${job.id} did not end: ${JSON.stringify(job)}`);
    }
    job = await api<JobInfo>(server, {
      method: "GET",
      path: `/v1/jobs/${started.id}/wait?timeoutSeconds=${WAIT_SECONDS}`,
    });
  }
  const seconds = secondsSince(start);
  if (job.state !== "succeeded") {
    throw new Error(`GSC job ${job.id} ended ${job.state}: ${JSON.stringify(job, null, 2)}`);
  }
  return { seconds, job };
}

/** Milliseconds that each step of a job took, by step number; a step still running is absent. */
export function stepMs(job: JobInfo): Map<number, { name: string; ms: number }> {
  const steps = new Map<number, { name: string; ms: number }>();
  for (const record of job.steps) {
    if (record.endedAt === undefined) continue;
    const ms = Date.parse(record.endedAt) - Date.parse(record.startedAt);
    const before = steps.get(record.step)?.ms ?? 0;
    steps.set(record.step, { name: record.name, ms: before + ms });
  }
  return steps;
}
