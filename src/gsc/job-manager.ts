// The GSC jobs of one storage system (DESIGN.md §3): the I/O shell that verifies requests, queues
// and runs jobs (a few at once), keeps them on disk (job-file.ts) and has them cleaned up
// (job-cleaner.ts) after every job and after a restart. A job is written durably where a crash
// must find it: when it is accepted (naming the P' it will create, so the record holds all its
// clean-up needs), when cancel is asked of it running, and when it ended; its step records and
// the rest are written lazily. A job found unended at start resumes from its last completed step
// (resume-point.ts), or, cancelled or unable to resume, is cleaned up and ends so.

import { isDiskFull } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { PathManager } from "../pprc/path-manager.js";
import type { Store } from "../store/store.js";
import { failureCode } from "./failure-code.js";
import { freeVolser } from "./free-volser.js";
import { planGsc } from "./gsc-plan.js";
import { GscRunner, type RunStart, type TestPause } from "./gsc-runner.js";
import { checkGscRequest } from "./gsc-spec.js";
import { JobCleaner, leftInconsistent } from "./job-cleaner.js";
import { JobFile } from "./job-file.js";
import { jobCopyingTo, jobUsingIntermediate, promisedIntermediates } from "./job-holders.js";
import type { JobRecord } from "./job-record.js";
import { restartJobs } from "./job-restart.js";
import {
  GSC_STEPS,
  type GscRequest,
  type GscStep,
  type JobInfo,
  type JobService,
  type ResumeCause,
} from "./job-service.js";
import {
  emptyProgress,
  endedJob,
  endOpenSteps,
  isJobEnded,
  whenJobEnded,
  withStepRecord,
} from "./job-states.js";
import { notifyJob } from "./notify-job.js";
import { RemoteSystem, type Route, routeOf } from "./remote-system.js";
import { intermediateFacts, type ResumeFacts } from "./resume-point.js";

/** Jobs run at once; the rest wait in order. Each copy keeps both disks and the link busy. */
export const MAX_RUNNING_JOBS = 2;
/** Ended jobs kept for `job list`; older ones are dropped. */
const KEPT_ENDED_JOBS = 200;

export interface JobLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface JobManagerOptions {
  readonly dataDir: string;
  readonly serial: string;
  readonly store: Store;
  readonly pairs: PairManager;
  readonly paths: Pick<PathManager, "connectionsTo">;
  readonly logger?: JobLogger;
  /** GSNAP_TEST_PAUSE_AT: jobs stop at a step (tests of crashes). */
  readonly pauseAt?: TestPause;
  /** Tests: how long a job waits for a link that went down (link-wait.ts, LINK_WAIT_MS). */
  readonly linkWaitMs?: number;
}

export class JobManager implements JobService {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly running = new Map<string, AbortController>();
  private readonly queue: string[] = [];
  /** Where jobs resumed at start run again from. */
  private readonly resumeAt = new Map<string, RunStart>();
  private readonly watchers = new Map<string, Set<(job: JobInfo) => void>>();
  private nextId = 1;
  private closed = false;
  private readonly cleaner: JobCleaner;

  private constructor(
    private readonly options: JobManagerOptions,
    private readonly file: JobFile,
  ) {
    this.cleaner = new JobCleaner({
      store: options.store,
      pairs: options.pairs,
      remote: (plan) => this.remote(routeOf(plan)),
      pending: () => [...this.jobs.values()].filter((record) => record.cleanupPending),
      saveDurably: (record) => file.saveDurably(record),
      logger: options.logger,
    });
  }

  /**
   * Loads the jobs. One that did not end resumes from its last completed step, ahead of the
   * queued ones; one that was cancelled or cannot resume is cleaned up and ends so.
   */
  static async open(options: JobManagerOptions): Promise<JobManager> {
    let manager: JobManager | undefined;
    const file = await JobFile.open({
      dataDir: options.dataDir,
      records: () => manager?.pruned() ?? [],
      logger: options.logger,
    });
    manager = new JobManager(options, file);
    const restarted = restartJobs(file.loaded, {
      facts: (record) => manager.resumeFacts(record),
      at: new Date().toISOString(),
    });
    for (const record of restarted.records) manager.jobs.set(record.info.id, record);
    for (const [id, run] of restarted.runs) {
      manager.resumeAt.set(id, run);
      options.logger?.info({ job: id, fromStep: run.fromStep }, "job resumes after the restart");
    }
    manager.queue.push(...restarted.queue);
    manager.nextId = Math.max(0, ...restarted.records.map((r) => Number(r.info.id.slice(1)))) + 1;
    try {
      await file.compact();
    } catch (error) {
      // The snapshot is a shortcut: the log still holds every job past the old one, and a
      // restart before the next snapshot marks the same jobs failed again. So a disk too full
      // for it does not keep the system from starting.
      if (!isDiskFull(error)) throw error;
      options.logger?.warn(
        { error: (error as Error).message },
        "GSC jobs snapshot not written at start: the disk is full",
      );
    }
    manager.cleaner.retryPending();
    manager.pump();
    return manager;
  }

  async start(request: GscRequest): Promise<JobInfo> {
    const spec = checkGscRequest(request);
    const plan = await planGsc({
      spec,
      local: (volser) => this.options.store.showVolume(volser),
      localBusy: (volser) => this.localBusy(volser),
      remote: (volser) =>
        this.remote({
          ssid: this.options.store.showVolume(spec.source.volser).ssid,
          serial: spec.target.serial,
          remoteSsid: spec.target.ssid,
        }).info(volser),
      targetBusy: (target) => jobCopyingTo(this.jobs.values(), target),
    });
    // The path must be there and up now: a job that cannot reach its target is refused.
    this.remote(routeOf(plan));
    const id = `J${String(this.nextId++).padStart(6, "0")}`;
    const now = new Date().toISOString();
    // An allocated P' is named now, so that the record that makes the job durable holds all a
    // clean-up needs: a crash at any later step finds the P' to delete.
    const intermediate = plan.intermediate.volser ?? this.freeLocalName();
    const note = plan.intermediate.auto ? `received; P' will be ${intermediate}` : "received";
    const info: JobInfo = {
      id,
      request,
      state: "queued",
      step: 500,
      steps: [{ step: 500, name: GSC_STEPS[500], startedAt: now, endedAt: now, note }],
      progress: emptyProgress(plan.tracks),
      createdAt: now,
    };
    const record: JobRecord = {
      info,
      plan: { ...plan, intermediate: { ...plan.intermediate, volser: intermediate } },
      cleanupPending: false,
    };
    this.jobs.set(id, record);
    try {
      await this.file.saveDurably(record);
    } catch (error) {
      // Not on disk, so not accepted: a crash would forget it.
      this.jobs.delete(id);
      throw error;
    }
    this.queue.push(id);
    this.pump();
    return this.show(id);
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((record) => record.info).reverse();
  }

  show(id: string): JobInfo {
    const record = this.jobs.get(id);
    if (record === undefined) {
      throw new GsnapError(
        "JOB_NOT_FOUND",
        `Cannot find job "${id}": there is no job with that id`,
      );
    }
    return record.info;
  }

  wait(id: string): Promise<JobInfo> {
    return whenJobEnded(this, id);
  }

  async cancel(id: string): Promise<JobInfo> {
    const job = this.show(id);
    if (isJobEnded(job)) {
      throw new GsnapError("JOB_STATE_INVALID", `Cannot cancel job ${id}: it has ${job.state}`);
    }
    const queued = this.queue.indexOf(id);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      await this.finish(id, "cancelled", {
        code: "GSC_CANCELLED",
        message: `Job ${id} was cancelled before it ran`,
      });
      return this.show(id);
    }
    // Durably first: a restart before the job ended must clean it up, not resume it.
    const record = this.jobs.get(id) as JobRecord;
    record.cancelRequested = true;
    await this.file.saveDurably(record);
    this.running.get(id)?.abort();
    return this.wait(id);
  }

  watch(id: string, listener: (job: JobInfo) => void): () => void {
    this.show(id);
    const set = this.watchers.get(id) ?? new Set();
    set.add(listener);
    this.watchers.set(id, set);
    return () => set.delete(listener);
  }

  /** Stops running jobs (they are cleaned up at the next start) and waits for the file. */
  async close(): Promise<void> {
    this.closed = true;
    // The runners stop at their next step or wait; the jobs stay running in the file and
    // resume at the next start.
    for (const abort of this.running.values()) abort.abort();
    this.cleaner.close();
    await this.file.close();
  }

  /** The syncs of the jobs file so far: what a job's durability costs. */
  get fileSyncs(): number {
    return this.file.syncs;
  }

  private pump(): void {
    while (!this.closed && this.running.size < MAX_RUNNING_JOBS && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      const abort = new AbortController();
      this.running.set(id, abort);
      void this.run(id, abort.signal).finally(() => {
        this.running.delete(id);
        this.pump();
      });
    }
  }

  private async run(id: string, signal: AbortSignal): Promise<void> {
    const record = this.jobs.get(id) as JobRecord;
    this.update(id, { state: "running" });
    this.file.saveSoon(record);
    const runner = new GscRunner(record.plan, {
      store: this.options.store,
      pairs: this.options.pairs,
      // Checked at the first request: a job resumed at start waits there for its path.
      remote: RemoteSystem.over(this.options.paths, routeOf(record.plan), { later: true }),
      jobId: id,
      serial: this.options.serial,
      step: (step, event, note) => this.recordStep(id, step, event, note),
      savePlan: async (plan, durability) => {
        record.plan = plan;
        if (durability === "durable") await this.file.saveDurably(record);
        else this.file.saveSoon(record);
      },
      progress: (progress) => this.update(id, { progress }),
      signal,
      pauseAt: this.options.pauseAt,
      bytesPerSecond: checkGscRequest(record.info.request).bandwidthBytesPerSecond,
      resumed: (step, cause) => this.recordResume(id, step, cause),
      linkWaitMs: this.options.linkWaitMs,
    });
    let outcome: { state: "succeeded" | "failed" | "cancelled"; code: string; message: string };
    try {
      const message = await runner.run(this.resumeAt.get(id));
      this.resumeAt.delete(id);
      outcome = { state: "succeeded", code: "OK", message };
    } catch (error) {
      const failure = failureCode(error);
      outcome = { state: failure.code === "GSC_CANCELLED" ? "cancelled" : "failed", ...failure };
    }
    // A system that stops leaves the job as it is: the next start resumes it.
    if (this.closed) return;
    if (outcome.state !== "succeeded") {
      // The step the job failed in ends now, saying why, rather than showing as running.
      const note = `${outcome.code}: ${outcome.message}`;
      this.update(id, { steps: endOpenSteps(record.info.steps, new Date().toISOString(), note) });
      this.file.saveSoon(record);
    }
    await this.recordStep(id, 522, "start");
    let cleaned: string;
    try {
      const cleanUp = await this.cleaner.cleanUp(record);
      cleaned = cleanUp.note;
      const left = leftInconsistent(record, cleanUp.inconsistent);
      if (left !== undefined && outcome.state !== "succeeded") outcome.message += `; ${left}`;
    } catch (error) {
      // The job ends all the same; what is left is retried until it is done.
      record.cleanupPending = true;
      cleaned = `clean-up left for later: ${(error as Error).message}`;
      this.cleaner.retryPending();
    }
    await this.recordStep(id, 522, "end", cleaned);
    await this.recordStep(id, 524, "start");
    await this.finish(id, outcome.state, outcome);
  }

  private async finish(
    id: string,
    state: "succeeded" | "failed" | "cancelled",
    result: { code: string; message: string },
  ): Promise<void> {
    const record = this.jobs.get(id) as JobRecord;
    record.info = endedJob(record.info, { state, ...result, at: new Date().toISOString() });
    await this.recordStep(id, 524, "end", `${result.code}: ${result.message}`);
    this.pruned();
    this.options.logger?.info({ job: id, state, code: result.code }, "job ended");
    void notifyJob(record.info, this.options.logger);
  }

  private async recordStep(
    id: string,
    step: GscStep,
    event: "start" | "end",
    note?: string,
  ): Promise<void> {
    const record = this.jobs.get(id) as JobRecord;
    const at = new Date().toISOString();
    const steps = withStepRecord(record.info.steps, { step, event, at, note });
    // Step records are news, not what clean-up depends on (the record written when the job was
    // accepted): they are written lazily. The job's end is written durably before anyone is told.
    if (step === 524 && event === "end") {
      record.info = { ...record.info, step, steps };
      await this.file.saveDurably(record);
      this.update(id, {});
    } else {
      this.update(id, { step, steps });
      this.file.saveSoon(record);
    }
  }

  /** What a job found unended at start has on this system: its P', and P''s pair. */
  private resumeFacts(record: JobRecord): ResumeFacts {
    const volser = record.plan.intermediate.volser;
    return intermediateFacts(record, {
      volume: this.options.store.listVolumes().find((volume) => volume.volser === volser),
      paired: volser !== undefined && this.options.pairs.primaryOf(volser) !== undefined,
      serial: this.options.serial,
    });
  }

  /** The job goes on from `step` after `cause`: shown in its `resumed` list, written lazily. */
  private recordResume(id: string, step: GscStep, cause: ResumeCause): void {
    const record = this.jobs.get(id) as JobRecord;
    const entry = { at: new Date().toISOString(), fromStep: step, after: cause };
    this.update(id, { resumed: [...(record.info.resumed ?? []), entry] });
    this.file.saveSoon(record);
    this.options.logger?.info({ job: id, step, after: cause }, "job resumed");
  }

  /** A name for an allocated P': no volume has it and no job has promised it. */
  private freeLocalName(): string {
    const taken = promisedIntermediates(this.jobs.values());
    return freeVolser(this.options.store, { prefix: "#P", taken });
  }

  private update(id: string, change: Partial<JobInfo>): void {
    const record = this.jobs.get(id) as JobRecord;
    record.info = { ...record.info, ...change };
    for (const listener of [...(this.watchers.get(id) ?? [])]) listener(record.info);
  }

  /** The target system over the path from the source's SSID; PATH_NOT_FOUND, LINK_DOWN now. */
  private remote = (route: Route) => RemoteSystem.over(this.options.paths, route);

  private localBusy(volser: string): string | undefined {
    if (this.options.pairs.isPaired(volser)) return "it is in a pair (terminate the pair first)";
    const holder = jobUsingIntermediate(this.jobs.values(), volser);
    return holder === undefined ? undefined : `job ${holder} uses it`;
  }

  /** Drops ended jobs past the KEPT_ENDED_JOBS newest; answers the jobs kept, oldest first. */
  private pruned(): JobRecord[] {
    const ended = [...this.jobs.values()].filter((record) => isJobEnded(record.info));
    for (const old of ended.slice(0, Math.max(0, ended.length - KEPT_ENDED_JOBS))) {
      // One whose clean-up is still to do stays until it is done.
      if (!old.cleanupPending) this.jobs.delete(old.info.id);
    }
    return [...this.jobs.values()];
  }
}
