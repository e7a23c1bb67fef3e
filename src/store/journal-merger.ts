// The merger: when and how the write-back journal's entries are folded into track chunks
// (journal-merge.ts builds and commits one merge). Merges run one at a time, oldest entries first:
// in the background when the journal is half full (down to a quarter), when a writer waits for
// space, and all of it once no write came for a while; and on demand, all of it, before a change
// that must see every journaled write in the chunks (a snap, a pair's track writes, checksums).

import type { Journal } from "./journal.js";
import { commitMerge, prepareMerge } from "./journal-merge.js";
import type { StoreParts } from "./track-io.js";

/** A merge takes the oldest entries until they cover this many tracks (28 MiB of 56 KiB ones). */
const MERGE_TRACKS = 512;

/** The merger looks at the journal this often. */
const MERGE_TICK_MS = 100;

/** What the merger needs of its store. */
export interface MergerStore {
  readonly parts: StoreParts;
  readonly journal: Journal;
  /** Settles once the last change requested so far has settled. */
  lastChange(): Promise<unknown>;
  /** One catalog change, after every change requested before it, once `ready` has settled. */
  change<T>(fn: () => T, ready: Promise<unknown>): Promise<T>;
}

export class JournalMerger {
  /** Merges run one at a time, oldest entries first; this settles when the last one asked has. */
  private merges: Promise<void> = Promise.resolve();
  private merging: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastAppendAt = 0;
  /** The buffer merges build their images in, one merge at a time (see mergeOnce). */
  private slab: Buffer | undefined;
  private stopped = false;

  /** `idleMs`: after how long without a write the journal is merged whole (false: never). */
  constructor(
    private readonly store: MergerStore,
    private readonly idleMs: number | false,
  ) {
    store.journal.onFull = () => this.startMerging();
  }

  /** Starts looking at the journal in the background. */
  start(): void {
    this.timer = setInterval(() => {
      const { journal } = this.store;
      if (journal.index.size === 0 || this.stopped) return;
      if (this.idle() || journal.usedBytes * 2 >= journal.capacityBytes) this.startMerging();
    }, MERGE_TICK_MS);
    this.timer.unref();
  }

  /** A write was appended: the journal is not idle, and past half full it starts merging. */
  appended(): void {
    this.lastAppendAt = Date.now();
    const { journal } = this.store;
    if (journal.usedBytes * 2 >= journal.capacityBytes) this.startMerging();
  }

  /** Merges every journal entry there is now (the merges run one after another). */
  mergeAll(): Promise<void> {
    const { index } = this.store.journal;
    const through = index.lastSeq;
    const run = this.merges.then(async () => {
      while (index.claimedThrough < through && (await this.mergeOnce())) {}
    });
    this.merges = run.catch(noop);
    return run;
  }

  /** Stops merging in the background; resolves once the merges under way have settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.merging;
    await this.merges;
  }

  private idle(): boolean {
    return this.idleMs !== false && Date.now() - this.lastAppendAt >= this.idleMs;
  }

  private startMerging(): void {
    if (this.merging !== undefined || this.stopped) return;
    const { journal } = this.store;
    const run = async () => {
      const busy = () => journal.full || journal.usedBytes * 4 > journal.capacityBytes;
      while (!this.stopped && journal.index.size > 0 && (busy() || this.idle())) {
        const step = this.merges.then(() => this.mergeOnce());
        this.merges = step.then(noop, noop);
        if (!(await step)) break;
        await this.reclaim();
      }
      await this.reclaim();
    };
    this.merging = run()
      .catch((error: unknown) => {
        // A failed merge (a disk error) leaves its entries in the journal; the next tick retries.
        // Writers that wait for space get the error now rather than wait for ever.
        journal.failWaiting(error);
      })
      .finally(() => {
        this.merging = undefined;
      });
  }

  /**
   * Merges the journal's oldest entries (up to MERGE_TRACKS tracks) in one change, once every
   * change requested before has settled (the merge reads what they wrote); false when there was
   * nothing to merge. Run only through `merges`, one at a time.
   */
  private async mergeOnce(): Promise<boolean> {
    const { parts, journal } = this.store;
    const { index } = journal;
    const from = index.claimedThrough + 1;
    const before = this.store.lastChange();
    const claim = index.claim(MERGE_TRACKS);
    if (claim === undefined) return false;
    try {
      await before;
      const merge = await prepareMerge(parts, journal, claim, (bytes) => {
        if (this.slab === undefined || this.slab.length < bytes)
          this.slab = Buffer.allocUnsafe(bytes);
        return this.slab;
      });
      // The merged images must be durable before a commit that says their entries are merged
      // can be: the journal gives their space back once the commit is.
      const durable = merge.written.then(() => parts.device.sync());
      await this.store.change(() => commitMerge(parts, merge), durable);
    } catch (error) {
      // Appends of a failed merge may still be reading its slab: the next merge takes a new one.
      this.slab = undefined;
      index.unclaim(from);
      throw error;
    }
    index.dropThrough(claim.throughSeq);
    return true;
  }

  /** Gives back the journal files whose entries are all merged, once the merges are durable. */
  private async reclaim(): Promise<void> {
    const { catalog } = this.store.parts;
    await catalog.flushed();
    this.store.journal.reclaim(catalog.journalMergedThrough());
  }
}

function noop(): void {}
