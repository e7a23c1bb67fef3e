// What a restart makes of a job found unended in the jobs file, once resume-point.ts has decided:
// a job that resumes is running again, with its interrupted step records closed and a resumption
// recorded (`resumed`, shown by `job show`); a job that cannot resume has ended, with its
// clean-up pending; a queued job stays as it is. Pure.

import type { RunStart } from "./gsc-runner.js";
import type { JobRecord } from "./job-record.js";
import { GSC_STEPS } from "./job-service.js";
import { endedJob, endOpenSteps, isJobEnded } from "./job-states.js";
import { type ResumeDecision, type ResumeFacts, resumePoint } from "./resume-point.js";

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

/**
 * The jobs read at start, each unended one decided and restarted: the records to keep, where the
 * resumed ones run from, and the order they go in the queue (the resumed ones first: they had
 * left it before the stop).
 */
export function restartJobs(
  loaded: readonly JobRecord[],
  options: {
    readonly facts: (record: JobRecord) => ResumeFacts;
    readonly at: string;
  },
): { records: JobRecord[]; runs: Map<string, RunStart>; queue: string[] } {
  const records: JobRecord[] = [];
  const runs = new Map<string, RunStart>();
  const queued: string[] = [];
  for (const found of loaded) {
    if (isJobEnded(found.info)) {
      records.push(found);
      continue;
    }
    const decision = resumePoint(found, options.facts(found));
    const { record, run } = restartJob(found, decision, options.at);
    records.push(record);
    if (run !== undefined) runs.set(record.info.id, run);
    else if (!isJobEnded(record.info)) queued.push(record.info.id);
  }
  return { records, runs, queue: [...runs.keys(), ...queued] };
}
