// What the API needs of global snap copy jobs: the JobManager, or a fake of it in tests
// (DESIGN.md §3). A job is one GSC, run in named steps on the source system.

import type { ErrorCode } from "../errors/codes.js";

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/**
 * The steps of a job, by the patent's numbers: source side 500-524. Target-side work (600-620)
 * happens inside them and is named in their records.
 */
export const GSC_STEPS = {
  500: "receive",
  502: "verify",
  506: "snap source to intermediate",
  508: "establish pair",
  510: "transfer",
  512: "receive status",
  514: "check success",
  516: "target intermediate?",
  518: "send snap to target",
  520: "receive snap status",
  522: "terminate pair",
  524: "report result",
} as const;
export type GscStep = keyof typeof GSC_STEPS;

/** A GSC as asked: the four parameters in text, each checked by the job service. */
export interface GscRequest {
  /** P: `VOLSER:C.H-C.H[+C.H-C.H...]`. */
  readonly source: string;
  /** P': `VOLSER` or `*` (allocate one and delete it afterwards). */
  readonly intermediate: string;
  /** S: `SERIAL.SSID.VOLSER[:C.H-C.H...]` (the extent only with S'). */
  readonly target: string;
  /** S': `VOLSER` or `*`; absent: no target intermediate. */
  readonly targetIntermediate?: string;
  /** Caps the transfer, in MB/s (10^6 bytes per second). */
  readonly bandwidthMBps?: number;
  /** POSTed the job's JSON when it ends. */
  readonly notifyUrl?: string;
}

export interface StepRecord {
  readonly step: GscStep;
  readonly name: string;
  readonly startedAt: string;
  /** Absent while the step runs. */
  readonly endedAt?: string;
  /** What happened, for a person: "snapped 1,500 tracks into #P0001", "skipped". */
  readonly note?: string;
}

export interface JobProgress {
  /** The tracks of P's extents. */
  readonly tracksTotal: number;
  /** Tracks of P's extents no longer out of sync: those sent, and those that matched (508). */
  readonly tracksDone: number;
  /**
   * From step 510: the tracks the copy sends (those that differed at 508), and how many of them
   * it has sent. The copy's share is tracksSent / tracksToSend: a repeated GSC that sends a few
   * tracks of a large extent counts from 0% to 100% too. Absent before 510 (and in jobs kept
   * from before they existed).
   */
  readonly tracksToSend?: number;
  readonly tracksSent?: number;
  readonly bytesTotal: number;
  readonly bytesDone: number;
  readonly rateBytesPerSecond: number;
  readonly etaSeconds: number | null;
}

/**
 * Why a job went on from a step it had stopped at: this system restarted in its middle (the job
 * continued from its last completed step), or the link to the target went down (the target
 * restarted, or the network failed) and came back within the job's wait.
 */
export type ResumeCause = "system restart" | "link failure";

/** One resumption of a job: when, from which step, and after what. */
export interface ResumeRecord {
  readonly at: string;
  /** The step the job ran again from. */
  readonly fromStep: GscStep;
  readonly after: ResumeCause;
}

export interface JobInfo {
  readonly id: string;
  readonly request: GscRequest;
  readonly state: JobState;
  /** The step running now, or the last one reached. */
  readonly step: GscStep;
  readonly steps: readonly StepRecord[];
  readonly progress: JobProgress;
  readonly createdAt: string;
  readonly endedAt?: string;
  /** Set when the job ended: "OK" for success, else the error code. */
  readonly resultCode?: "OK" | ErrorCode;
  readonly resultMessage?: string;
  /** Each time the job went on after a restart or a link failure, oldest first; absent: never. */
  readonly resumed?: readonly ResumeRecord[];
}

export interface JobService {
  /**
   * Checks the request (step 502: everything that can be refused before anything changes) and
   * queues the job; answers with it, queued or running. A refused request throws its error code
   * and no job is made.
   */
  start(request: GscRequest): Promise<JobInfo>;
  /** Every job, newest first. */
  list(): JobInfo[];
  /** JOB_NOT_FOUND when there is no such job. */
  show(id: string): JobInfo;
  /** Resolves with the job once it has ended (succeeded, failed or cancelled). */
  wait(id: string): Promise<JobInfo>;
  /** Cancels a queued or running job; JOB_STATE_INVALID when it has ended. */
  cancel(id: string): Promise<JobInfo>;
  /** Calls `listener` with the job each time it changes (step, progress, end); returns unsubscribe. */
  watch(id: string, listener: (job: JobInfo) => void): () => void;
}
