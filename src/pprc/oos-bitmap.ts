// The out-of-sync (OOS) bitmap of a primary volume: which tracks the secondary may not hold as
// they are here. Pure logic; the I/O shell (oos-file.ts) keeps the persisted bits on disk.
//
// A track is in one of three conditions:
//   clean      the secondary holds it;
//   dirty      it changed and must be sent (a host write while suspended, an initial copy);
//   in flight  it is being sent (taken by the copy, or mirrored by a sync write) and not yet
//              acknowledged.
// The persisted bit of a track is set while it is dirty or in flight, so that a crash at any
// moment leaves every track that might differ marked: a track is cleared on disk only once the
// secondary acknowledged it and no newer change is pending. Taking a track for the copy clears
// its dirty bit at once (in memory): a host write after that marks it dirty again, and it is sent
// once more.
//
// A copy's progress needs the work it set out to do as well as what is left: `tracksToCopy`
// counts the tracks out of sync when the copy began (`beginCopy`, as the pair becomes pending)
// and each track that came out of sync since. It never falls below `count`, so the copied share
// is (tracksToCopy - count) / tracksToCopy, whatever the size of the volume.

import assert from "node:assert";
import type { TrackRange, TrackSource } from "./track-feed.js";

/** Called when persisted bytes change: the byte at `byteIndex` of `bits` must be written. */
export type PersistedChange = (byteIndex: number) => void;

export class OosBitmap implements TrackSource {
  /** One bit per track, what must be on disk. */
  readonly bits: Uint8Array;
  private readonly dirty: Uint8Array;
  /** Tracks in flight, with how many sends of each are unacknowledged. */
  private readonly inFlight = new Map<number, number>();
  private outOfSync = 0;
  /** The copy's work: out of sync at its start, plus each track out of sync since. */
  private toCopy = 0;
  private cursor = 0;

  constructor(
    readonly trackCount: number,
    persisted: Uint8Array | undefined,
    private readonly onChange: PersistedChange = () => {},
  ) {
    const bytes = Math.ceil(trackCount / 8);
    this.bits = new Uint8Array(bytes);
    this.dirty = new Uint8Array(bytes);
    if (persisted !== undefined) {
      // Whatever was persisted may differ: after a restart it is all dirty.
      this.dirty.set(persisted.subarray(0, bytes));
      this.bits.set(persisted.subarray(0, bytes));
      for (let track = 0; track < trackCount; track += 1) {
        if (this.isDirty(track)) this.outOfSync += 1;
      }
      this.toCopy = this.outOfSync;
    }
  }

  /** Tracks that may differ at the secondary: dirty or in flight. */
  get count(): number {
    return this.outOfSync;
  }

  /** The copy's progress counts what is out of sync now. */
  get tracksTotal(): number {
    return this.outOfSync;
  }

  /** The tracks the copy under way set out to send, and those out of sync since it began. */
  get tracksToCopy(): number {
    assert(this.toCopy >= this.outOfSync, "a copy has no more left than it set out to send");
    return this.toCopy;
  }

  /** A copy begins (the pair became pending): its work is what is out of sync now. */
  beginCopy(): void {
    this.toCopy = this.outOfSync;
  }

  /** Marks tracks dirty: they changed here and must go to the secondary. */
  mark(range: TrackRange): void {
    for (let track = range.firstTrack; track < range.firstTrack + range.count; track += 1) {
      if (this.isDirty(track)) continue;
      if (!this.inFlight.has(track)) this.cameOut();
      this.dirty[track >> 3] |= 1 << (track & 7);
      this.persist(track);
    }
  }

  /** Marks every track dirty: the initial copy. */
  markAll(): void {
    this.mark({ firstTrack: 0, count: this.trackCount });
  }

  /**
   * The next run of dirty tracks (at most `maxTracks`, neighbours), taken: clean in memory and in
   * flight until acknowledged. Searches from where the last run ended and wraps around once.
   */
  take(maxTracks: number): TrackRange | undefined {
    const first = this.nextDirty();
    if (first === undefined) return undefined;
    let count = 0;
    while (count < maxTracks && first + count < this.trackCount && this.isDirty(first + count)) {
      this.begin(first + count);
      count += 1;
    }
    this.cursor = first + count;
    return { firstTrack: first, count };
  }

  /**
   * Puts tracks in flight for a sync write that sends them now (not through take): their
   * persisted bits are set before the write, so a crash before the secondary acknowledged leaves
   * them marked.
   */
  beginSend(range: TrackRange): void {
    for (let track = range.firstTrack; track < range.firstTrack + range.count; track += 1) {
      this.begin(track);
    }
  }

  /** The secondary stored one send of the track. */
  acknowledge(track: number): void {
    const sends = this.inFlight.get(track);
    if (sends === undefined) return;
    if (sends > 1) {
      this.inFlight.set(track, sends - 1);
      return;
    }
    this.inFlight.delete(track);
    if (this.isDirty(track)) return;
    this.outOfSync -= 1;
    this.persist(track);
  }

  /** A send failed: the track is dirty again, to be sent later. */
  fail(track: number): void {
    const sends = this.inFlight.get(track);
    if (sends === undefined) return;
    if (sends > 1) this.inFlight.set(track, sends - 1);
    else this.inFlight.delete(track);
    // Out of sync while in flight, out of sync while dirty: the count does not change.
    this.dirty[track >> 3] |= 1 << (track & 7);
    this.persist(track);
  }

  /** Every send in flight failed (the copy stopped): those tracks are dirty again. */
  abandonInFlight(): void {
    for (const track of [...this.inFlight.keys()]) {
      this.inFlight.delete(track);
      this.dirty[track >> 3] |= 1 << (track & 7);
    }
    // Dirty or in flight before, dirty now: the count does not change.
  }

  isDirty(track: number): boolean {
    return (this.dirty[track >> 3] & (1 << (track & 7))) !== 0;
  }

  private begin(track: number): void {
    const wasOut = this.isDirty(track) || this.inFlight.has(track);
    this.dirty[track >> 3] &= ~(1 << (track & 7));
    this.inFlight.set(track, (this.inFlight.get(track) ?? 0) + 1);
    if (!wasOut) this.cameOut();
    this.persist(track);
  }

  /** A track in sync is out of sync now: one more left, and one more for the copy to send. */
  private cameOut(): void {
    this.outOfSync += 1;
    this.toCopy += 1;
  }

  private nextDirty(): number | undefined {
    const bytes = this.dirty.length;
    const start = this.cursor >> 3;
    for (let step = 0; step <= bytes; step += 1) {
      const index = (start + step) % bytes;
      if (this.dirty[index] === 0) continue;
      for (let bit = 0; bit < 8; bit += 1) {
        const track = index * 8 + bit;
        // On the first byte, tracks before the cursor come last (after the wrap).
        if (step === 0 && track < this.cursor) continue;
        if (track < this.trackCount && this.isDirty(track)) return track;
      }
    }
    // Only tracks before the cursor in its own byte are left.
    for (let track = start * 8; track < this.cursor && track < this.trackCount; track += 1) {
      if (this.isDirty(track)) return track;
    }
    return undefined;
  }

  /** Sets the persisted bit from the track's condition and reports a changed byte. */
  private persist(track: number): void {
    const index = track >> 3;
    const mask = 1 << (track & 7);
    const before = this.bits[index];
    const out = this.isDirty(track) || this.inFlight.has(track);
    this.bits[index] = out ? before | mask : before & ~mask;
    if (this.bits[index] !== before) this.onChange(index);
  }
}
