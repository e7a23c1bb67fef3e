// What a restart makes of a job found unended in the jobs file, once resume-point.ts has decided:
// a job that resumes is running again, with its interrupted step records closed and a resumption
// recorded (`resumed`, shown by `job show`); a job that cannot resume has ended, with its
// clean-up pending; a queued job stays as it is. Pure.

import type { RunStart } from "./gsc-runner.js";
import type { JobRecord } from "./job-record.js";
import { GSC_STEPS } from "./job-service.js";
import { endedJob, endOpenSteps } from "./job-states.js";
import type { ResumeDecision } from "./resume-point.js";

export interface RestartedJob {
  readonly record: JobRecord;
  /** Where it runs again from; absent when it waits in the queue or has ended. */
  readonly run?: RunStart;
}

export function restartJob(record: JobRecord, decision: ResumeDecision, at: string): RestartedJob {
  switch (decision.kind) {
    case "queue":
      return { record };
    case "end": {
      const steps = endOpenSteps(record.info.steps, at, `${decision.code}: ${decision.message}`);
      const info = endedJob({ ...record.info, steps }, { ...decision, at });
      return { record: { ...record, info, cleanupPending: true } };
    }
    case "resume": {
      const { fromStep, pairOpened } = decision;
      // The steps the stop cut short end where they were; the job runs them again.
      const note = `interrupted: the system stopped; the job resumed from step ${fromStep} (${GSC_STEPS[fromStep]})`;
      const steps = endOpenSteps(record.info.steps, at, note);
      const resumed = [
        ...(record.info.resumed ?? []),
        { at, fromStep, after: "system restart" as const },
      ];
      const info = { ...record.info, state: "running" as const, steps, resumed };
      return { record: { ...record, info }, run: { fromStep, pairOpened } };
    }
  }
}
