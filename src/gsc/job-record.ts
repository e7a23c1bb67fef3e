// One GSC job as its system keeps it on disk (docs/gsc.md, "File layouts"): what the API shows,
// the plan verification settled, and whether clean-up still has to reach the target. Read back
// from disk, a record is checked field by field, not cast: a file someone edited or a disk
// damaged stops the start with STORE_FORMAT, naming the job and the field. Pure.

import { GsnapError } from "../errors/gsnap-error.js";
import type { GscPlan } from "./gsc-plan.js";
import { GSC_STEPS, type JobInfo, type JobState } from "./job-service.js";

export interface JobRecord {
  info: JobInfo;
  plan: GscPlan;
  /** Clean-up left to do: the target could not be reached yet. */
  cleanupPending: boolean;
  /**
   * Cancel was asked of the running job (written durably before the job is stopped): a restart
   * before it ended cleans it up and ends it cancelled rather than resuming it.
   */
  cancelRequested?: boolean;
}

/** What the jobs snapshot holds: the count of the last write it includes, and the records. */
export interface JobFileContent {
  /** The write count (one per snapshot or log line) of the last change the snapshot holds. */
  readonly saved: number;
  /** Oldest first. */
  readonly jobs: JobRecord[];
}

/** One line of the jobs log: a job as it was at write number `saved`. */
export interface JobLogLine {
  readonly saved: number;
  readonly job: JobRecord;
}

const JOB_STATES: readonly JobState[] = ["queued", "running", "succeeded", "failed", "cancelled"];
const JOB_ID_PATTERN = /^J\d{6,12}$/;

/** The content of a jobs file, checked; STORE_FORMAT names what is wrong. */
export function checkJobFileContent(value: unknown, file: string): JobFileContent {
  const bad = (what: string) =>
    new GsnapError("STORE_FORMAT", `Cannot read the GSC jobs in "${file}": ${what}`);
  if (!isObject(value) || value.format !== 1) throw bad("it is not format 1");
  // Files written before the count existed have none: every log line written since is newer.
  const saved = value.saved ?? 0;
  if (!isCount(saved)) throw bad('"saved" is not a count');
  if (!Array.isArray(value.jobs)) throw bad('"jobs" is not a list');
  const jobs = value.jobs.map((job: unknown, index: number) => {
    const problem = recordProblem(job);
    if (problem !== undefined) throw bad(`job ${index + 1}: ${problem}`);
    return job as JobRecord;
  });
  return { saved, jobs };
}

/** A line of the jobs log, parsed and checked; undefined when it does not read whole. */
export function readJobLogLine(text: string): JobLogLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value) || !isCount(value.saved)) return undefined;
  if (recordProblem(value.job) !== undefined) return undefined;
  return value as unknown as JobLogLine;
}

/** What is wrong with a record read back, or undefined. */
function recordProblem(record: unknown): string | undefined {
  if (!isObject(record)) return "it is not an object";
  const { info, plan } = record;
  if (!isObject(info)) return '"info" is not an object';
  if (typeof info.id !== "string" || !JOB_ID_PATTERN.test(info.id)) return "its id is not a job id";
  const what = `${info.id}: `;
  if (!JOB_STATES.includes(info.state as JobState)) return `${what}its state is not a job state`;
  if (!(String(info.step) in GSC_STEPS)) return `${what}its step is not a GSC step`;
  if (!Array.isArray(info.steps)) return `${what}"steps" is not a list`;
  if (!isObject(info.request)) return `${what}"request" is not an object`;
  if (!isObject(info.progress)) return `${what}"progress" is not an object`;
  if (typeof info.createdAt !== "string") return `${what}"createdAt" is not a time`;
  if (typeof record.cleanupPending !== "boolean")
    return `${what}"cleanupPending" is not true or false`;
  if (!["boolean", "undefined"].includes(typeof record.cancelRequested))
    return `${what}"cancelRequested" is not true or false`;
  if (info.resumed !== undefined && !resumedRecords(info.resumed))
    return `${what}"resumed" is not a list of resumptions`;
  if (!isObject(plan)) return `${what}"plan" is not an object`;
  const { source, intermediate, target } = plan;
  if (!isObject(source) || !strings(source, ["volser", "ssid", "extents"])) {
    return `${what}the plan's source is not a volume, SSID and extents`;
  }
  if (!isObject(target) || !strings(target, ["serial", "ssid", "volser", "extents"])) {
    return `${what}the plan's target is not a serial, SSID, volume and extents`;
  }
  if (
    !isObject(intermediate) ||
    typeof intermediate.auto !== "boolean" ||
    !["string", "undefined"].includes(typeof intermediate.volser)
  ) {
    return `${what}the plan's intermediate is not a volume`;
  }
  if (plan.targetIntermediate !== undefined && !isObject(plan.targetIntermediate)) {
    return `${what}the plan's target intermediate is not a volume`;
  }
  if (typeof plan.tracks !== "number" || typeof plan.trackSizeBytes !== "number") {
    return `${what}the plan's track count or size is not a number`;
  }
  if (!isObject(plan.pairGeometry)) return `${what}the plan's pair geometry is not an object`;
  return undefined;
}

/** Whether `value` is a list of `{ at, fromStep, after }`, as a job's resumptions are kept. */
function resumedRecords(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.every(
      (entry) =>
        isObject(entry) &&
        typeof entry.at === "string" &&
        String(entry.fromStep) in GSC_STEPS &&
        (entry.after === "system restart" || entry.after === "link failure"),
    )
  );
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function strings(value: Record<string, unknown>, names: readonly string[]): boolean {
  return names.every((name) => typeof value[name] === "string");
}
