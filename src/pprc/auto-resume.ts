// Pairs that come back by themselves (DESIGN.md §2): a pair suspended because its primary
// restarted or its link failed resumes once its path has a link up again, copying only its
// out-of-sync tracks, as DRBD reconnects and resyncs. A pair the operator suspended, one whose
// secondary refused a track (that needs a person), and one a GSC job drives (the job decides)
// stay suspended. A resume that fails (the secondary refuses) is tried again later, each wait
// twice the last, up to a minute. `gsnap serve --no-auto-resume` turns this off.

import type { LinkLogger } from "../link/link-logger.js";
import type { PairRecord } from "./pair-file.js";
import type { SuspendReason } from "./pair-service.js";

/** How often suspended pairs are looked at. */
export const AUTO_RESUME_INTERVAL_MS = 1_000;
/** The longest wait between failed resumes of one pair. */
const MAX_BACKOFF_MS = 60_000;

/** Reasons a pair is suspended that end by themselves when the link is back. */
const PASSING_REASONS: readonly SuspendReason[] = ["primary restart", "link failure"];

/** Whether a primary's record is one that resumes by itself. Pure. */
export function resumesByItself(record: PairRecord): boolean {
  return (
    record.role === "primary" &&
    record.state === "suspended" &&
    record.reason !== undefined &&
    PASSING_REASONS.includes(record.reason) &&
    record.job === undefined
  );
}

export interface AutoResumeOptions {
  /** The primaries' records now. */
  readonly records: () => readonly PairRecord[];
  /** Whether the pair's path has a link up. */
  readonly reachable: (volser: string) => boolean;
  /** Resumes the pair as `pair resume` does; throws what it refuses with. */
  readonly resume: (volser: string) => Promise<unknown>;
  readonly logger: LinkLogger;
  readonly intervalMs?: number;
}

export class AutoResume {
  private readonly timer: NodeJS.Timeout;
  private readonly resuming = new Set<string>();
  /** Pairs whose last resume failed: when to try again, and the wait after that. */
  private readonly backoff = new Map<string, { atMs: number; waitMs: number }>();
  private closed = false;

  constructor(private readonly options: AutoResumeOptions) {
    const intervalMs = options.intervalMs ?? AUTO_RESUME_INTERVAL_MS;
    this.timer = setInterval(() => this.tend(), intervalMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private tend(): void {
    const nowMs = performance.now();
    for (const record of this.options.records()) {
      const { volser } = record;
      if (!resumesByItself(record)) {
        this.backoff.delete(volser);
        continue;
      }
      if (this.resuming.has(volser) || (this.backoff.get(volser)?.atMs ?? 0) > nowMs) continue;
      if (!this.options.reachable(volser)) continue;
      this.resuming.add(volser);
      void this.resume(record);
    }
  }

  private async resume(record: PairRecord): Promise<void> {
    const { volser } = record;
    try {
      await this.options.resume(volser);
      this.backoff.delete(volser);
      this.options.logger.info({ volser, after: record.reason }, "pair resumed by itself");
    } catch (error) {
      if (this.closed) return;
      const waitMs = Math.min(
        (this.backoff.get(volser)?.waitMs ?? AUTO_RESUME_INTERVAL_MS / 2) * 2,
        MAX_BACKOFF_MS,
      );
      this.backoff.set(volser, { atMs: performance.now() + waitMs, waitMs });
      this.options.logger.warn(
        { volser, err: (error as Error).message, retryInMs: waitMs },
        "pair did not resume by itself; trying again",
      );
    } finally {
      this.resuming.delete(volser);
    }
  }
}
