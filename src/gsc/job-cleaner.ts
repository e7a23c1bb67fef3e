// The clean-up of a GSC job (step 522, DESIGN.md §3): terminates the job's pair, asks the target
// to release what the job reserved (it deletes an S' it allocated and ends a pair left on a
// reserved volume) and deletes an allocated P'. It needs only what the job's record held when the
// job was accepted: the job id, the target and P'. A clean-up that could not reach the target is
// pending; pending ones are tried again every CLEANUP_RETRY_MS until done, then written durably.

import { isGsnapError } from "../errors/gsnap-error.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { Store } from "../store/store.js";
import type { GscPlan } from "./gsc-plan.js";
import type { JobRecord } from "./job-record.js";
import type { RemoteSystem } from "./remote-system.js";

/** A clean-up that could not reach the target is tried again this often. */
const CLEANUP_RETRY_MS = 2_000;

export interface JobCleanerOptions {
  readonly store: Pick<Store, "deleteVolume">;
  readonly pairs: Pick<PairManager, "primaryOf" | "terminate">;
  /** The job's target over its path; throws PATH_NOT_FOUND or LINK_DOWN when it is not there. */
  readonly remote: (plan: GscPlan) => RemoteSystem;
  /** The jobs whose clean-up is pending. */
  readonly pending: () => JobRecord[];
  /** Writes a record durably once its pending clean-up is done. */
  readonly saveDurably: (record: JobRecord) => Promise<void>;
  readonly logger?: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
}

export class JobCleaner {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: JobCleanerOptions) {}

  /**
   * Cleans up after `record`'s job and answers what was done, for the 522 record, and the target
   * volumes the job left part old, part new (undefined: the target was not reached to tell). A
   * target not reached leaves the clean-up pending (and retried); a local failure throws.
   */
  async cleanUp(record: JobRecord): Promise<{ note: string; inconsistent?: string[] }> {
    const { pairs, store } = this.options;
    const notes: string[] = [];
    let inconsistent: string[] | undefined;
    const intermediate = record.plan.intermediate.volser;
    if (intermediate !== undefined && pairs.primaryOf(intermediate) !== undefined) {
      await pairs.terminate(intermediate);
      notes.push(`pair of ${intermediate} terminated`);
    }
    try {
      const released = await this.options.remote(record.plan).release(record.info.id);
      const { deleted } = released;
      inconsistent = released.inconsistent;
      notes.push(
        deleted.length > 0 ? `target released (deleted ${deleted.join(", ")})` : "target released",
      );
      if (inconsistent.length > 0) notes.push(`${inconsistent.join(", ")} left inconsistent`);
      record.cleanupPending = false;
    } catch (error) {
      record.cleanupPending = true;
      notes.push(`target not reached, release retried: ${(error as Error).message}`);
      this.retryPending();
    }
    if (record.plan.intermediate.auto && intermediate !== undefined) {
      try {
        await store.deleteVolume(intermediate);
        notes.push(`${intermediate} deleted`);
      } catch (error) {
        if (!isGsnapError(error) || error.code !== "VOLUME_NOT_FOUND") throw error;
      }
    }
    return { note: notes.join("; "), inconsistent };
  }

  /** Retries the clean-ups left pending (after a restart, or a target that was down). */
  retryPending(): void {
    if (this.closed || this.timer !== undefined) return;
    const pending = this.options.pending();
    if (pending.length === 0) return;
    this.timer = setTimeout(async () => {
      this.timer = undefined;
      for (const record of pending) {
        if (this.closed) return;
        try {
          const { note } = await this.cleanUp(record);
          // Durably: a clean-up found pending again after a crash would be done twice.
          await this.options.saveDurably(record);
          this.options.logger?.info({ job: record.info.id, note }, "job cleaned up");
        } catch (error) {
          this.options.logger?.warn(
            { job: record.info.id, err: String(error) },
            "job clean-up failed",
          );
        }
      }
      this.retryPending();
    }, CLEANUP_RETRY_MS);
    this.timer.unref();
  }

  /** Stops retrying: what is pending is found again at the next start. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}

/**
 * What a failed job's result says of the target volumes it left part old, part new: those the
 * target's release named, or, when the target was not reached to tell, S if the job had started
 * copying into it (no S').
 */
export function leftInconsistent(
  record: JobRecord,
  released: string[] | undefined,
): string | undefined {
  const { plan } = record;
  const name = (volser: string) => `${plan.target.serial}.${plan.target.ssid}.${volser}`;
  if (released !== undefined) {
    if (released.length === 0) return undefined;
    return `the target ${released.map(name).join(", ")} is left inconsistent (part old, part new; marked so until a copy into it completes)`;
  }
  const copying = record.info.steps.some((step) => step.step === 510);
  if (plan.targetIntermediate !== undefined || !copying) return undefined;
  return `the target ${name(plan.target.volser)} may be left inconsistent (part old, part new): it was not reached to tell`;
}
