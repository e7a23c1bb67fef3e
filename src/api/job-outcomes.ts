// Counts GSC jobs by how they ended (succeeded, failed, cancelled) since the system started, from
// the job list each scrape reads. Pure logic: the caller passes the list and the start time.
//
// The job list is no counter: it keeps the last 200 ended jobs, drops older ones and holds jobs
// from before a restart. So the tally remembers which listed jobs it has counted and counts a job
// once, when a scrape first sees it ended, if it ended after the start. A job the system found
// unended at start (it stopped in the job's middle) ends failed during the start, so it counts.
// A job is missed only if it ends and is dropped between two scrapes: 200 jobs, at two at a time.

import assert from "node:assert";
import type { JobInfo, JobState } from "../gsc/job-service.js";
import { ENDED_JOB_STATES, isJobEnded } from "../gsc/job-states.js";

export type JobTotals = Readonly<Partial<Record<JobState, number>>>;

export class JobOutcomes {
  private readonly totals = new Map<JobState, number>(ENDED_JOB_STATES.map((state) => [state, 0]));
  /** Ids of listed jobs already counted; an id leaves when its job leaves the list. */
  private readonly counted = new Set<string>();

  /** `sinceMs`: when the system started (ms since the epoch); jobs that ended before are not counted. */
  constructor(private readonly sinceMs: number) {
    assert(Number.isFinite(sinceMs), "the start of the count is a time");
  }

  /** Counts the jobs of `jobs` that ended since the start and were not counted yet; answers the totals. */
  update(jobs: readonly JobInfo[]): JobTotals {
    const listed = new Set<string>();
    for (const job of jobs) {
      listed.add(job.id);
      if (!isJobEnded(job) || this.counted.has(job.id)) continue;
      assert(job.endedAt !== undefined, "an ended job says when it ended");
      const endedMs = Date.parse(job.endedAt);
      assert(Number.isFinite(endedMs), "a job's end is a time");
      if (endedMs < this.sinceMs) continue;
      this.counted.add(job.id);
      this.totals.set(job.state, (this.totals.get(job.state) ?? 0) + 1);
    }
    // A job dropped from the list never comes back, so its id can go: the set stays as small as
    // the list.
    for (const id of this.counted) if (!listed.has(id)) this.counted.delete(id);
    return Object.fromEntries(this.totals);
  }
}
