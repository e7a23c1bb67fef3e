// The GSC job metrics: jobs by how they ended since the system started, and the jobs running and
// queued now. Read from the JobService's `list()` on each scrape, like the replication metrics, so
// that the JobManager needs no hook for them.

import type { Registry } from "prom-client";
import type { JobService, JobState } from "../gsc/job-service.js";
import { JobOutcomes } from "./job-outcomes.js";
import { counter, gauge, type Sample } from "./sampled-metrics.js";

/** What the job metrics read; absent in an API without replication (no jobs, no series). */
export type MetricsJobs = Pick<JobService, "list">;

/**
 * Registers the job metrics in `registry`; `jobs` is asked on each scrape, so that a setter can
 * give the service after the metrics exist. Counting starts now: call it when the system starts.
 */
export function registerJobMetrics(registry: Registry, jobs: () => MetricsJobs | undefined): void {
  const outcomes = new JobOutcomes(Date.now());
  const inState = (state: JobState) => (): Sample<never>[] => {
    const listed = jobs()?.list();
    return listed === undefined ? [] : [[{}, listed.filter((job) => job.state === state).length]];
  };
  counter(registry, {
    name: "gsnap_gsc_jobs_total",
    help: "GSC jobs that ended since the system started, by result (succeeded, failed, cancelled); each result is there from the start, at 0",
    labelNames: ["result"],
    samples: () => {
      const listed = jobs()?.list();
      if (listed === undefined) return [];
      return Object.entries(outcomes.update(listed)).map(
        ([result, total]): Sample<"result"> => [{ result }, total ?? 0],
      );
    },
  });
  gauge(registry, {
    name: "gsnap_gsc_jobs_running",
    help: "GSC jobs running now",
    labelNames: [],
    samples: inState("running"),
  });
  gauge(registry, {
    name: "gsnap_gsc_jobs_queued",
    help: "GSC jobs accepted and waiting for one of the running slots",
    labelNames: [],
    samples: inState("queued"),
  });
}
