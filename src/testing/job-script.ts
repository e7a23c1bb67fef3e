// Test support for commands that follow a job: moves a MemoryJobs job through a script of changes
// once someone watches it (the CLI's event stream), as a running JobManager would.

import { setTimeout as sleep } from "node:timers/promises";
import type { JobChange, MemoryJobs } from "./memory-jobs.js";

/** Between two changes: long enough for each event to reach the client before the next. */
const STEP_DELAY_MS = 20;
/** How often to look whether the job is watched yet. */
const POLL_MS = 5;

/** Applies `changes` to job `id` one by one once it is watched; resolves when all are applied. */
export async function runJobScript(
  jobs: MemoryJobs,
  id: string,
  changes: readonly JobChange[],
): Promise<void> {
  while (jobs.watcherCount(id) === 0) await sleep(POLL_MS);
  for (const change of changes) {
    await sleep(STEP_DELAY_MS);
    jobs.advance(id, change);
  }
}
