// A JobService with nothing behind it, for API and CLI tests: it checks requests as the JobManager
// does (the same pure checks) and keeps jobs in memory. Nothing runs: a new job stays queued until
// a test moves it on with `advance` (a step, progress, the end), which tells the watchers as the
// JobManager would.

import assert from "node:assert";
import { GsnapError } from "../errors/gsnap-error.js";
import { totalTrackCount } from "../geometry/address.js";
import { DEFAULT_TRACK_SIZE_BYTES } from "../geometry/geometry.js";
import { checkGscRequest } from "../gsc/gsc-spec.js";
import {
  GSC_STEPS,
  type GscRequest,
  type GscStep,
  type JobInfo,
  type JobProgress,
  type JobService,
  type JobState,
  type StepRecord,
} from "../gsc/job-service.js";
import { isEndedState, isJobEnded, whenJobEnded } from "../gsc/job-states.js";

const CREATED_AT = "2026-01-01T00:00:00.000Z";

/** A queued job of 150 tracks (VOL001's first 10 cylinders to GS0002.01B0.VOL900), as tests start from. */
export function exampleJob(id: string, fields: Partial<JobInfo> = {}): JobInfo {
  return {
    id,
    request: { source: "VOL001:0.0-9.14", intermediate: "*", target: "GS0002.01B0.VOL900" },
    state: "queued",
    step: 500,
    steps: [],
    progress: progressOf(150),
    createdAt: CREATED_AT,
    ...fields,
  };
}

/** What `advance` may change; a new `step` closes the running step record and opens one. */
export interface JobChange {
  readonly state?: JobState;
  readonly step?: GscStep;
  readonly progress?: Partial<JobProgress>;
  readonly resultCode?: JobInfo["resultCode"];
  readonly resultMessage?: string;
  readonly note?: string;
}

export class MemoryJobs implements JobService {
  private readonly jobs = new Map<string, JobInfo>();
  private readonly watchers = new Map<string, Set<(job: JobInfo) => void>>();
  private jobsMade = 0;

  async start(request: GscRequest): Promise<JobInfo> {
    const spec = checkGscRequest(request);
    this.jobsMade += 1;
    const id = `J${String(this.jobsMade).padStart(6, "0")}`;
    const job = exampleJob(id, {
      request,
      progress: progressOf(totalTrackCount(spec.source.extents)),
      createdAt: new Date().toISOString(),
    });
    this.jobs.set(id, job);
    return job;
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].reverse();
  }

  show(id: string): JobInfo {
    const job = this.jobs.get(id);
    if (job === undefined) {
      throw new GsnapError(
        "JOB_NOT_FOUND",
        `Cannot find job "${id}": there is no job with that id`,
      );
    }
    return job;
  }

  /** Sets a job as the JobManager would report it, replacing any job of its id, and tells watchers. */
  setJob(job: JobInfo): void {
    this.jobs.set(job.id, job);
    for (const listener of this.watchers.get(job.id) ?? []) listener(job);
  }

  /** Moves a job on as a running job would move, and tells its watchers. */
  advance(id: string, change: JobChange): JobInfo {
    const job = this.show(id);
    const now = new Date().toISOString();
    let steps = job.steps;
    const step = change.step ?? job.step;
    if (change.step !== undefined && change.step !== job.step) {
      steps = closeLast(steps, now);
      const record: StepRecord = { step, name: GSC_STEPS[step], startedAt: now };
      steps = [...steps, change.note === undefined ? record : { ...record, note: change.note }];
    }
    const state = change.state ?? (job.state === "queued" ? "running" : job.state);
    const ended = isEndedState(state);
    const moved: JobInfo = {
      ...job,
      state,
      step,
      steps: ended ? closeLast(steps, now) : steps,
      progress: { ...job.progress, ...change.progress },
      ...(ended ? { endedAt: now } : {}),
      ...(change.resultCode === undefined ? {} : { resultCode: change.resultCode }),
      ...(change.resultMessage === undefined ? {} : { resultMessage: change.resultMessage }),
    };
    this.setJob(moved);
    return moved;
  }

  wait(id: string): Promise<JobInfo> {
    return whenJobEnded(this, id);
  }

  async cancel(id: string): Promise<JobInfo> {
    const job = this.show(id);
    if (isJobEnded(job)) {
      throw new GsnapError(
        "JOB_STATE_INVALID",
        `Cannot cancel job "${id}": it has already ${job.state === "cancelled" ? "been cancelled" : job.state}`,
      );
    }
    return this.advance(id, {
      state: "cancelled",
      resultCode: "GSC_CANCELLED",
      resultMessage: `Job ${id} was cancelled by the operator`,
    });
  }

  watch(id: string, listener: (job: JobInfo) => void): () => void {
    this.show(id);
    const listeners = this.watchers.get(id) ?? new Set();
    this.watchers.set(id, listeners);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }

  /** How many listeners watch `id`: tests check that a closed stream stopped watching. */
  watcherCount(id: string): number {
    return this.watchers.get(id)?.size ?? 0;
  }
}

function progressOf(tracksTotal: number): JobProgress {
  assert(tracksTotal >= 0, "a job copies a count of tracks");
  return {
    tracksTotal,
    tracksDone: 0,
    bytesTotal: tracksTotal * DEFAULT_TRACK_SIZE_BYTES,
    bytesDone: 0,
    rateBytesPerSecond: 0,
    etaSeconds: null,
  };
}

/** The step records with the last one ended at `now`, if it runs. */
function closeLast(steps: readonly StepRecord[], now: string): StepRecord[] {
  const last = steps.at(-1);
  if (last === undefined || last.endedAt !== undefined) return [...steps];
  return [...steps.slice(0, -1), { ...last, endedAt: now }];
}
