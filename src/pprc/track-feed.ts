// The tracks a copy sends, in order, read from the store a batch at a time: mapped tracks come with
// their bytes and checksum, unmapped (and all-zero) tracks as zero records that carry no bytes.
// Many senders may ask for the next track at once; each track is handed out exactly once.

import { trackChecksum } from "../link/track-checksum.js";
import type { Store } from "../store/store.js";

/**
 * Tracks read from the store in one go. 16 tracks of at most 1 MiB bound a batch to 16 MiB, and
 * one read of 16 neighbouring tracks costs little more than one of a single track.
 */
export const READ_BATCH_TRACKS = 16;

export interface TrackRange {
  readonly firstTrack: number;
  readonly count: number;
}

export type OutgoingTrack =
  | {
      readonly kind: "data";
      readonly trackNumber: number;
      readonly data: Buffer;
      readonly checksum: bigint;
    }
  | { readonly kind: "zero"; readonly trackNumber: number };

export class TrackFeed {
  private readonly ready: OutgoingTrack[] = [];
  private readonly ranges: readonly TrackRange[];
  private rangeIndex = 0;
  private offsetInRange = 0;
  private reading: Promise<void> | undefined;
  private readonly zeroTrack: Buffer;
  private readonly volser: string;
  readonly trackSizeBytes: number;
  readonly tracksTotal: number;

  constructor(
    private readonly store: Store,
    options: { readonly volser: string; readonly ranges: readonly TrackRange[] },
  ) {
    this.volser = options.volser;
    // Empty ranges carry nothing; a negative count is left in for the store to refuse.
    this.ranges = options.ranges.filter((range) => range.count !== 0);
    this.tracksTotal = this.ranges.reduce((sum, range) => sum + range.count, 0);
    this.trackSizeBytes = store.showVolume(this.volser).trackSizeBytes;
    this.zeroTrack = Buffer.alloc(this.trackSizeBytes);
  }

  /** True once every track has been handed out. */
  get done(): boolean {
    return (
      this.ready.length === 0 && this.reading === undefined && this.rangeIndex >= this.ranges.length
    );
  }

  /** The next track in order, or undefined when every track has been handed out. */
  async next(): Promise<OutgoingTrack | undefined> {
    while (this.ready.length === 0 && this.rangeIndex < this.ranges.length) {
      this.reading ??= this.readBatch().finally(() => {
        this.reading = undefined;
      });
      await this.reading;
    }
    // A concurrent caller may still be waiting for a batch that is being read.
    while (this.ready.length === 0 && this.reading !== undefined) await this.reading;
    return this.ready.shift();
  }

  private async readBatch(): Promise<void> {
    const range = this.ranges[this.rangeIndex];
    const firstTrack = range.firstTrack + this.offsetInRange;
    const count = Math.min(READ_BATCH_TRACKS, range.count - this.offsetInRange);
    this.offsetInRange += count;
    if (this.offsetInRange >= range.count) {
      this.rangeIndex += 1;
      this.offsetInRange = 0;
    }
    const size = this.trackSizeBytes;
    const tracks: OutgoingTrack[] = [];
    for (const run of this.store.allocation(this.volser, { firstTrack, count })) {
      if (!run.mapped) {
        for (let i = 0; i < run.count; i += 1) {
          tracks.push({ kind: "zero", trackNumber: run.firstTrack + i });
        }
        continue;
      }
      const bytes = await this.store.read(this.volser, {
        offsetBytes: run.firstTrack * size,
        lengthBytes: run.count * size,
      });
      for (let i = 0; i < run.count; i += 1) {
        const data = bytes.subarray(i * size, (i + 1) * size);
        const trackNumber = run.firstTrack + i;
        // A mapped track that holds only zeroes still travels as a zero record (DESIGN.md §2).
        if (data.equals(this.zeroTrack)) tracks.push({ kind: "zero", trackNumber });
        else tracks.push({ kind: "data", trackNumber, data, checksum: trackChecksum(data) });
      }
    }
    this.ready.push(...tracks);
  }
}
