// The garbage collector. Two kinds of work, each done in small steps, one catalog change per step,
// so host I/O goes on between them:
//
// 1. Orphans: a node whose last reference went is an orphan; a step releases the children of a few
//    orphans (chunks of leaves, nodes of interior nodes, which may become orphans in turn) and
//    drops them. Deleting a volume is therefore O(1), and its space comes back in the background.
// 2. Compaction: a segment (not the active one) with less than half its bytes live has its live
//    chunks (found through the catalog's segment index, not by reading the segment) copied to the
//    active segment, a window at a time; once none is live, the segment's record goes and its file
//    is deleted. The emptiest segment goes first: the most space back for the fewest bytes copied.
//    An active segment that is mostly dead (a big one, or any while the disk is full) is sealed
//    first, so that the space of a deleted volume comes back even when all of it sat in the
//    segments appends go to. While the disk is full, a segment is compacted only if its live bytes
//    fit in the free space: a compaction that ran out of room halfway would give nothing back.

import { GsnapError } from "../errors/gsnap-error.js";
import { chunkChecksum } from "./checksum.js";
import { NONE } from "./mapping-tree.js";
import type { StoreParts } from "./track-io.js";

/** 16 orphans release at most 8,192 references per step: a few ms, so host I/O barely waits. */
export const ORPHANS_PER_STEP = 16;

/** 8 MiB copied per compaction step: ~146 tracks, a few ms of I/O between host requests. */
export const COMPACT_BYTES_PER_STEP = 8 * 1024 * 1024;

/** A segment is compacted once less than half of it is live: copying costs at most the space won. */
export const COMPACT_BELOW_LIVE_RATIO = 0.5;

/**
 * An active segment is sealed for compaction once it holds 64 MiB (a quarter of a segment): below
 * that, while the disk has room, the new file and the copy are not worth the space they win.
 */
export const SEAL_ACTIVE_MIN_BYTES = 64 * 1024 * 1024;

/**
 * Room left free while compacting on a full disk, beyond the live bytes copied: the catalog's
 * commits of the moves and of the segment's removal.
 */
export const COMPACT_HEADROOM_BYTES = 1024 * 1024;

export type Change = <T>(fn: () => T) => Promise<T>;

export interface CollectorOptions {
  /** Runs one catalog change after every change requested before it. */
  readonly change: Change;
  /** True while the store is in full mode (space-reserve.ts). */
  readonly shortOfSpace: () => boolean;
  /** Bytes free on the filesystem the segments are appended to. */
  readonly freeBytes: () => number;
}

/** What the collector knows of a segment when it chooses one. */
export interface SegmentCandidate {
  readonly segment: number;
  readonly sizeBytes: number;
  readonly liveBytes: number;
  readonly active: boolean;
  readonly busy: boolean;
}

/**
 * The segment to compact next (the emptiest worth it), and whether it must be sealed first.
 * Pure: the facts come from the catalog and the device.
 */
export function chooseSegment(
  candidates: Iterable<SegmentCandidate>,
  room: { readonly shortOfSpace: boolean; readonly freeBytes: number },
): { segment: number; seal: boolean } | undefined {
  let best: SegmentCandidate | undefined;
  for (const candidate of candidates) {
    if (candidate.busy) continue;
    const sparse =
      candidate.liveBytes < candidate.sizeBytes * COMPACT_BELOW_LIVE_RATIO ||
      candidate.liveBytes === 0;
    if (!sparse) continue;
    if (candidate.active) {
      if (candidate.sizeBytes === 0) continue;
      if (!room.shortOfSpace && candidate.sizeBytes < SEAL_ACTIVE_MIN_BYTES) continue;
    }
    if (room.shortOfSpace && candidate.liveBytes + COMPACT_HEADROOM_BYTES > room.freeBytes)
      continue;
    if (best === undefined || candidate.liveBytes < best.liveBytes) best = candidate;
  }
  return best && { segment: best.segment, seal: best.active };
}

export interface CollectorTotals {
  orphansReleased: number;
  chunksMoved: number;
  segmentsRemoved: number;
}

export class Collector {
  readonly totals: CollectorTotals = { orphansReleased: 0, chunksMoved: 0, segmentsRemoved: 0 };
  private readonly parts: StoreParts;
  private readonly change: Change;
  private readonly options: CollectorOptions;
  private compaction: { segment: number } | undefined;

  constructor(parts: StoreParts, options: CollectorOptions) {
    this.parts = parts;
    this.change = options.change;
    this.options = options;
  }

  /** Does one step of work; false when there was nothing to do. */
  async step(): Promise<boolean> {
    const orphans = this.parts.catalog.orphans(ORPHANS_PER_STEP);
    if (orphans.length > 0) {
      await this.change(() => this.releaseOrphans(orphans));
      this.totals.orphansReleased += orphans.length;
      return true;
    }
    this.compaction ??= this.pickSegment();
    if (this.compaction === undefined) return false;
    const { segment } = this.compaction;
    const stats = this.parts.catalog.segmentStats().get(segment);
    if (stats === undefined || stats.liveBytes === 0) {
      // Looked at again inside the change: a write whose append went to the segment before it
      // was sealed may have recorded a chunk in it since (the changes before this one ran first).
      const removed = await this.change(() => {
        const now = this.parts.catalog.segmentStats().get(segment);
        if (now !== undefined && now.liveBytes > 0) return false;
        this.parts.catalog.removeSegment(segment);
        return true;
      });
      if (removed) {
        this.parts.device.removeSegment(segment);
        this.compaction = undefined;
        this.totals.segmentsRemoved += 1;
      }
      return true;
    }
    await this.compactWindow();
    return true;
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

  /**
   * The segment to compact next; an active one is sealed first, so that no append is placed in
   * it after this (every append placed before asks for its change before the collector's next).
   */
  private pickSegment(): { segment: number } | undefined {
    const { catalog, device } = this.parts;
    const shortOfSpace = this.options.shortOfSpace();
    const candidates = [...catalog.segmentStats()].map(([segment, stats]) => ({
      segment,
      ...stats,
      active: device.isActive(segment),
      busy: device.isBusy(segment),
    }));
    const chosen = chooseSegment(candidates, {
      shortOfSpace,
      freeBytes: shortOfSpace ? this.options.freeBytes() : Number.POSITIVE_INFINITY,
    });
    if (chosen === undefined) return undefined;
    if (chosen.seal) device.seal(chosen.segment);
    return { segment: chosen.segment };
  }

  private async compactWindow(): Promise<void> {
    const compaction = this.compaction;
    if (compaction === undefined) return;
    const { catalog, device } = this.parts;
    // Moved chunks leave the segment's index, so each window starts from the segment's start.
    const ids = catalog.chunksInSegment(compaction.segment, {
      fromOffsetBytes: 0,
      maxBytes: COMPACT_BYTES_PER_STEP,
    });
    if (ids.length === 0) {
      // No live chunk in the index, yet live bytes remain: the stats disagree with the index.
      // Leave the segment for the checker to report rather than delete data.
      this.compaction = undefined;
      return;
    }
    // A remote device fetches the window's chunks first, so the change finds them at hand; a
    // local one has them, and the lookups would be wasted.
    if (device.remote) {
      await device.fetch(ids.flatMap((id) => catalog.getChunk(id)?.location ?? []));
    }
    const moved = await this.change(() => {
      let count = 0;
      for (const id of ids) {
        // A change that ran since the list was read may have released or moved the chunk.
        const chunk = catalog.getChunk(id);
        if (chunk === undefined || chunk.location.segment !== compaction.segment) continue;
        const data = Buffer.allocUnsafe(chunk.location.lengthBytes);
        device.readInto(chunk.location, data, 0);
        if (chunkChecksum(data) !== chunk.hash) {
          throw new GsnapError(
            "CHUNK_CORRUPT",
            `Cannot compact segment ${compaction.segment}: chunk ${id} fails its checksum`,
          );
        }
        const [location] = device.append([{ id, hash: chunk.hash, data }]);
        catalog.recordSegmentEnd(location.segment, location.offsetBytes + location.lengthBytes);
        catalog.moveChunk(id, location);
        count += 1;
      }
      return count;
    });
    this.totals.chunksMoved += moved;
  }
}
