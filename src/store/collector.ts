// The garbage collector. Two kinds of work, each done in small steps, one catalog change per step,
// so host I/O goes on between them:
//
// 1. Orphans: a node whose last reference went is an orphan; a step releases the children of a few
//    orphans (chunks of leaves, nodes of interior nodes, which may become orphans in turn) and
//    drops them. Deleting a volume is therefore O(1), and its space comes back in the background.
// 2. Compaction: the segment compaction-plan.ts chooses (the emptiest worth it; an active one is
//    sealed first) has its live chunks (found through the catalog's segment index, not by reading
//    the segment) copied to the active segment a window at a time, from its end (read and written
//    on the thread pool, then recorded in one change), and is cut behind each window, so that
//    space comes back step by step and a step needs room for one window only.
//    Once none is live, the segment's record goes and its file is deleted.
//
// The collector is pressed (compacts harder, and only what fits) from the moment the store reports
// a full disk until it has nothing left to do under that policy.

import { GsnapError } from "../errors/gsnap-error.js";
import { chunkChecksum } from "./checksum.js";
import { type CompactionRoom, chooseSegment, windowBytes } from "./compaction-plan.js";
import { NONE } from "./mapping-tree.js";
import type { StoreParts } from "./track-io.js";

/** 16 orphans release at most 8,192 references per step: a few ms, so host I/O barely waits. */
export const ORPHANS_PER_STEP = 16;

export type Change = <T>(fn: () => T) => Promise<T>;

export interface CollectorOptions {
  /** Runs one catalog change after every change requested before it. */
  readonly change: Change;
  /** True while the store is in full mode (space-reserve.ts). */
  readonly shortOfSpace: () => boolean;
  /** Bytes free on the filesystem the segments are appended to. */
  readonly freeBytes: () => number;
}

export interface CollectorTotals {
  orphansReleased: number;
  chunksMoved: number;
  segmentsRemoved: number;
}

export class Collector {
  readonly totals: CollectorTotals = { orphansReleased: 0, chunksMoved: 0, segmentsRemoved: 0 };
  private readonly parts: StoreParts;
  private readonly options: CollectorOptions;
  private compaction: { segment: number } | undefined;
  /** Set when the store reports a full disk; cleared once pressed compaction finds nothing. */
  private pressed = false;

  constructor(parts: StoreParts, options: CollectorOptions) {
    this.parts = parts;
    this.options = options;
  }

  /** Does one step of work; false when there was nothing to do (or nothing that fits now). */
  async step(): Promise<boolean> {
    if (this.options.shortOfSpace()) this.pressed = true;
    const orphans = this.parts.catalog.orphans(ORPHANS_PER_STEP);
    if (orphans.length > 0) {
      await this.options.change(() => this.releaseOrphans(orphans));
      this.totals.orphansReleased += orphans.length;
      return true;
    }
    this.compaction ??= this.pickSegment();
    if (this.compaction === undefined) return false;
    const { segment } = this.compaction;
    const stats = this.parts.catalog.segmentStats().get(segment);
    if (stats === undefined || stats.liveBytes === 0) {
      await this.removeSegment(segment);
      return true;
    }
    return await this.compactWindow(segment);
  }

  /** Runs steps until there is nothing left to do. */
  async runUntilIdle(): Promise<void> {
    while (await this.step()) {
      // Each step is its own change; keep going.
    }
  }

  private releaseOrphans(orphans: readonly number[]): void {
    const { catalog } = this.parts;
    for (const id of orphans) {
      // A change that ran since the list was read may have dropped it already.
      if (!catalog.isOrphan(id)) continue;
      const node = catalog.readNode(id);
      for (const entry of node.entries) {
        if (entry === NONE) continue;
        if (node.level === 0) catalog.releaseChunk(entry);
        else catalog.releaseNode(entry);
      }
      catalog.dropNode(id);
    }
  }

  private room(): CompactionRoom {
    return {
      pressed: this.pressed,
      freeBytes: this.pressed ? this.options.freeBytes() : Number.POSITIVE_INFINITY,
    };
  }

  /**
   * The segment to compact next; an active one is sealed first, so that no append is placed in
   * it after this (every append placed before asks for its change before the collector's next).
   */
  private pickSegment(): { segment: number } | undefined {
    const { catalog, device } = this.parts;
    const candidates = [...catalog.segmentStats()].map(([segment, stats]) => ({
      segment,
      ...stats,
      active: device.isActive(segment),
      busy: device.isBusy(segment),
    }));
    const chosen = chooseSegment(candidates, this.room());
    if (chosen === undefined) {
      this.pressed = this.options.shortOfSpace();
      return undefined;
    }
    if (chosen.seal) device.seal(chosen.segment);
    return { segment: chosen.segment };
  }

  private async removeSegment(segment: number): Promise<void> {
    // Looked at again inside the change: a write whose append went to the segment before it was
    // sealed may have recorded a chunk in it since (the changes before this one ran first).
    const removed = await this.options.change(() => {
      const now = this.parts.catalog.segmentStats().get(segment);
      if (now !== undefined && now.liveBytes > 0) return false;
      this.parts.catalog.removeSegment(segment);
      return true;
    });
    if (!removed) return;
    await this.durableBeforeDestroying();
    this.parts.device.removeSegment(segment);
    this.compaction = undefined;
    this.totals.segmentsRemoved += 1;
  }

  /**
   * Before old bytes are cut or removed: the moved chunks' new copies reach the disk, and so does
   * the catalog change that points at them. A commit is visible at once but durable later (lmdb-js
   * syncs in the background); a crash before that reopens the catalog as it was, pointing at the
   * old bytes, which must still be there.
   */
  private async durableBeforeDestroying(): Promise<void> {
    await this.parts.device.sync();
    await this.parts.catalog.flushed();
  }

  /**
   * Moves the last window of the segment's live chunks and cuts it behind them. The window is read
   * and verified on the thread pool and appended in the background, and only then does a change
   * point each chunk at its copy: the event loop and the catalog's write transaction never wait
   * for the window's I/O. A chunk released (or moved) meanwhile keeps its place, and its copy is
   * dead bytes for a later compaction: chunk ids are never reused, so a place names one chunk.
   */
  private async compactWindow(segment: number): Promise<boolean> {
    const { catalog, device } = this.parts;
    const maxBytes = windowBytes(this.room());
    if (maxBytes === 0) return false;
    const ids = catalog.chunksAtSegmentEnd(segment, maxBytes);
    if (ids.length === 0) {
      // No live chunk in the index, yet live bytes remain: the stats disagree with the index.
      // Leave the segment for the checker to report rather than delete data.
      this.compaction = undefined;
      return true;
    }
    const window = ids.flatMap((id) => {
      const chunk = catalog.getChunk(id);
      if (chunk === undefined || chunk.location.segment !== segment) return [];
      return [{ id, chunk, data: Buffer.allocUnsafe(chunk.location.lengthBytes) }];
    });
    await device.readManyAsync(
      window.map(({ chunk, data }) => ({ location: chunk.location, target: data })),
    );
    for (const { id, chunk, data } of window) {
      if (chunkChecksum(data) !== chunk.hash) {
        throw new GsnapError(
          "CHUNK_CORRUPT",
          `Cannot compact segment ${segment}: chunk ${id} fails its checksum`,
        );
      }
    }
    const { locations, written } = device.appendAsync(
      window.map(({ id, chunk, data }) => ({ id, hash: chunk.hash, data })),
    );
    await written;
    const { moved, endBytes } = await this.options.change(() => {
      let count = 0;
      window.forEach(({ id, chunk }, i) => {
        const now = catalog.getChunk(id);
        if (now?.location.segment !== segment) return;
        if (now.location.offsetBytes !== chunk.location.offsetBytes) return;
        const location = locations[i];
        catalog.recordSegmentEnd(location.segment, location.offsetBytes + location.lengthBytes);
        catalog.moveChunk(id, location);
        count += 1;
      });
      // Every append placed in the segment before it was sealed has had its change by now: the
      // bytes past its last live chunk are dead.
      const end = catalog.segmentEnd(segment);
      catalog.cutSegment(segment, end);
      return { moved: count, endBytes: end };
    });
    // With reads of moved chunks under way the file keeps its tail, which a later window or the
    // next open cuts.
    await this.durableBeforeDestroying();
    device.cut(segment, endBytes);
    this.totals.chunksMoved += moved;
    return true;
  }
}
