// The tracks a copy sends, in order, read from the store a batch at a time into a pooled slab:
// mapped tracks come with their bytes, the checksum the store verified them against and their block
// checksums from the chunk record (no second hash of either), unmapped (and all-zero) tracks as zero records that carry no bytes. Which tracks go is the
// TrackSource's to say: a fixed list of ranges (an initial copy, GSC) or an out-of-sync bitmap
// that host writes keep filling (a pair): scattered tracks gather into one batch, read with one
// store call. Many senders may ask for the next batch at once; each track the source gives is
// handed out exactly once.

import { MAX_BATCH_DATA_BYTES } from "../link/frame-types.js";
import { SlabPool } from "../link/slab-pool.js";
import { chunkChecksum } from "../store/checksum.js";
import type { TrackReads } from "../store/read-tracks.js";
import type { Store } from "../store/store.js";
import { isZeroImage } from "../store/zero-image.js";

/**
 * Tracks of a batch at most: as many as fit MAX_BATCH_DATA_BYTES (73 of 3390 geometry, 4 of
 * 1 MiB), but no more than 64, so that a copy of a small volume still spreads over connections
 * and scattered out-of-sync tracks are not held back to fill a huge batch.
 */
export const MAX_BATCH_TRACKS_SENT = 64;

export interface TrackRange {
  readonly firstTrack: number;
  readonly count: number;
}

/** Says which tracks to send next. */
export interface TrackSource {
  /** Tracks to send in all, for progress; a bitmap source counts what is out of sync. */
  readonly tracksTotal: number;
  /** The next run of at most `maxTracks` neighbouring tracks, or undefined when none is left. */
  take(maxTracks: number): TrackRange | undefined;
}

/** A source of fixed ranges, in order. Empty ranges carry nothing. */
export function rangeSource(ranges: readonly TrackRange[]): TrackSource {
  const left = ranges.filter((range) => range.count !== 0).map((range) => ({ ...range }));
  return {
    tracksTotal: left.reduce((sum, range) => sum + range.count, 0),
    take(maxTracks) {
      const range = left[0];
      if (range === undefined) return undefined;
      const count = Math.min(maxTracks, range.count);
      const run = { firstTrack: range.firstTrack, count };
      range.firstTrack += count;
      range.count -= count;
      if (range.count === 0) left.shift();
      return run;
    },
  };
}

export type OutgoingTrack =
  | {
      readonly kind: "data";
      readonly trackNumber: number;
      readonly data: Buffer;
      readonly checksum: bigint;
      /** From the chunk record; undefined where it has none or journaled writes changed it. */
      readonly blockSums?: Buffer;
    }
  | { readonly kind: "zero"; readonly trackNumber: number };

/** Tracks read together, in track order, their bytes in one slab. */
export interface OutgoingBatch {
  readonly tracks: readonly OutgoingTrack[];
  /** Gives the slab back: call once no track of the batch is in flight any more. */
  release(): void;
}

/**
 * Batches read ahead of the senders: while the lanes send one batch, the next ones are read on
 * the thread pool, so the disk and the link work at the same time.
 */
const READ_AHEAD_BATCHES = 4;

/**
 * Slabs kept spare per feed: the batches in flight on a few connections' windows and the read
 * ahead. More are left to the collector.
 */
const MAX_SPARE_SLABS = 32;

export class TrackFeed {
  /** Batch reads in flight, in track order. */
  private readonly reads: Promise<OutgoingBatch>[] = [];
  private exhausted = false;
  private readonly volser: string;
  private readonly source: TrackSource;
  private readonly slabs: SlabPool;
  private zeroChecksum: bigint | undefined;
  readonly trackSizeBytes: number;
  readonly batchTracks: number;

  constructor(
    private readonly store: Store,
    options: { readonly volser: string; readonly source: TrackSource },
  ) {
    this.volser = options.volser;
    this.source = options.source;
    this.trackSizeBytes = store.showVolume(this.volser).trackSizeBytes;
    this.batchTracks = Math.max(
      1,
      Math.min(MAX_BATCH_TRACKS_SENT, Math.floor(MAX_BATCH_DATA_BYTES / this.trackSizeBytes)),
    );
    this.slabs = new SlabPool(this.batchTracks * this.trackSizeBytes, MAX_SPARE_SLABS);
  }

  get tracksTotal(): number {
    return this.source.tracksTotal;
  }

  /** True once every batch has been handed out. */
  get done(): boolean {
    return this.reads.length === 0 && this.exhausted;
  }

  /** The next batch in order, or undefined when every track has been handed out. */
  async next(): Promise<OutgoingBatch | undefined> {
    this.readAhead();
    const first = this.reads.shift();
    if (first === undefined) return undefined;
    this.readAhead();
    return first;
  }

  private readAhead(): void {
    while (!this.exhausted && this.reads.length < READ_AHEAD_BATCHES) {
      // A batch gathers up to batchTracks tracks, in one run or several (scattered out-of-sync
      // tracks after a resume), read with one store call.
      const runs: TrackRange[] = [];
      let tracks = 0;
      while (tracks < this.batchTracks) {
        const run = this.source.take(this.batchTracks - tracks);
        if (run === undefined) {
          this.exhausted = true;
          break;
        }
        runs.push(run);
        tracks += run.count;
      }
      if (runs.length === 0) return;
      // A bitmap source wraps around to its start: a batch names its tracks in increasing order.
      runs.sort((a, b) => a.firstTrack - b.firstTrack);
      const read = this.readBatch(runs);
      // A failed read fails the caller that awaits it; until then it is not unhandled.
      read.catch(() => {});
      this.reads.push(read);
    }
  }

  private async readBatch(runs: readonly TrackRange[]): Promise<OutgoingBatch> {
    const size = this.trackSizeBytes;
    const slab = this.slabs.take();
    let reads: TrackReads;
    try {
      reads = await this.store.readTracks(this.volser, { runs, into: slab });
    } catch (error) {
      this.slabs.give(slab);
      throw error;
    }
    const tracks: OutgoingTrack[] = [];
    let slot = 0;
    let hasData = false;
    for (const run of runs) {
      for (let i = 0; i < run.count; i += 1, slot += 1) {
        const trackNumber = run.firstTrack + i;
        const checksum = reads.checksums[slot];
        const data = slab.subarray(slot * size, (slot + 1) * size);
        // A mapped track that holds only zeroes still travels as a zero record (DESIGN.md §2);
        // the store keeps none, so only a track whose checksum is that of zeroes is compared.
        if (checksum === undefined || (checksum === this.zeroChecksumOf() && isZeroImage(data))) {
          tracks.push({ kind: "zero", trackNumber });
          continue;
        }
        tracks.push({
          kind: "data",
          trackNumber,
          data,
          checksum,
          blockSums: reads.blockSums[slot],
        });
        hasData = true;
      }
    }
    if (!hasData) {
      this.slabs.give(slab);
      return { tracks, release: () => {} };
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.slabs.give(slab);
    };
    return { tracks, release };
  }

  private zeroChecksumOf(): bigint {
    this.zeroChecksum ??= chunkChecksum(Buffer.alloc(this.trackSizeBytes));
    return this.zeroChecksum;
  }
}
