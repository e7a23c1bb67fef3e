// The tracks a copy sends, in order, read from the store a batch at a time: mapped tracks come with
// their bytes and checksum, unmapped (and all-zero) tracks as zero records that carry no bytes.
// Which tracks go is the TrackSource's to say: a fixed list of ranges (an initial copy, GSC) or
// an out-of-sync bitmap that host writes keep filling (a pair). Many senders may ask for the next
// track at once; each track the source gives is handed out exactly once.

import { trackChecksum } from "../link/track-checksum.js";
import type { Store } from "../store/store.js";
import { isZeroImage } from "../store/zero-image.js";

/**
 * Tracks read from the store in one go. 16 tracks of at most 1 MiB bound a batch to 16 MiB, and
 * one read of 16 neighbouring tracks costs little more than one of a single track.
 */
export const READ_BATCH_TRACKS = 16;

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
    }
  | { readonly kind: "zero"; readonly trackNumber: number };

/**
 * Batches read ahead of the senders: while the lanes send one batch, the next ones are read on
 * the thread pool, so the disk and the link work at the same time.
 */
const READ_AHEAD_BATCHES = 4;

export class TrackFeed {
  private ready: OutgoingTrack[] = [];
  /** Batch reads in flight, in track order. */
  private readonly reads: Promise<OutgoingTrack[]>[] = [];
  private exhausted = false;
  private readonly volser: string;
  private readonly source: TrackSource;
  readonly trackSizeBytes: number;

  constructor(
    private readonly store: Store,
    options: { readonly volser: string; readonly source: TrackSource },
  ) {
    this.volser = options.volser;
    this.source = options.source;
    this.trackSizeBytes = store.showVolume(this.volser).trackSizeBytes;
  }

  get tracksTotal(): number {
    return this.source.tracksTotal;
  }

  /** True once every track has been handed out. */
  get done(): boolean {
    return this.ready.length === 0 && this.reads.length === 0 && this.exhausted;
  }

  /** The next track in order, or undefined when every track has been handed out. */
  async next(): Promise<OutgoingTrack | undefined> {
    for (;;) {
      this.readAhead();
      const track = this.ready.shift();
      if (track !== undefined) return track;
      const first = this.reads[0];
      if (first === undefined) return undefined;
      const tracks = await first;
      // Of the callers waiting for the same batch, the first to wake hands it on.
      if (this.reads[0] === first) {
        this.reads.shift();
        this.ready = this.ready.concat(tracks);
      }
    }
  }

  private readAhead(): void {
    while (!this.exhausted && this.reads.length < READ_AHEAD_BATCHES) {
      // A batch gathers up to READ_BATCH_TRACKS tracks, in one run or several (scattered
      // out-of-sync tracks after a resume), whose reads then go at once.
      const runs: TrackRange[] = [];
      let tracks = 0;
      while (tracks < READ_BATCH_TRACKS) {
        const run = this.source.take(READ_BATCH_TRACKS - tracks);
        if (run === undefined) {
          this.exhausted = true;
          break;
        }
        runs.push(run);
        tracks += run.count;
      }
      if (runs.length === 0) return;
      const read = Promise.all(runs.map((run) => this.readBatch(run))).then((all) => all.flat());
      // A failed read fails the caller that awaits it; until then it is not unhandled.
      read.catch(() => {});
      this.reads.push(read);
    }
  }

  private async readBatch(batch: TrackRange): Promise<OutgoingTrack[]> {
    const { firstTrack, count } = batch;
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
        if (isZeroImage(data)) tracks.push({ kind: "zero", trackNumber });
        else tracks.push({ kind: "data", trackNumber, data, checksum: trackChecksum(data) });
      }
    }
    return tracks;
  }
}
