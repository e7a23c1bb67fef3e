// The journal's index in memory: which pieces of which tracks the journal holds that are not yet
// merged into chunks, per track in the order they were written, and all of them in sequence order
// for the merger, which always takes the oldest first. Pure logic.

import assert from "node:assert/strict";
import type { RecordKind } from "./journal-record.js";

/** One journal record: a piece of one track written (or zeroed) by a host. */
export interface JournalEntry {
  readonly seq: number;
  readonly volser: string;
  readonly incarnation: number;
  readonly track: number;
  readonly kind: RecordKind;
  /** Where the piece starts in its track, and its length. */
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly dataHash: bigint;
  /** The journal file that holds the record, and where its data starts there. */
  readonly file: number;
  readonly position: number;
}

/** The oldest entries, taken for one merge: every entry up to `throughSeq`, in order. */
export interface MergeClaim {
  readonly throughSeq: number;
  readonly entries: readonly JournalEntry[];
}

export class JournalIndex {
  /** Entries by volume and track, each track's in sequence order. */
  private readonly byVolume = new Map<string, Map<number, JournalEntry[]>>();
  /** Every entry in sequence order; those before `head` are gone. */
  private queue: JournalEntry[] = [];
  private head = 0;
  /** Entries of deleted volumes, skipped by merges and never read. */
  private readonly dead = new Set<JournalEntry>();
  /** The last sequence number a merge has claimed. */
  private claimedSeq = 0;
  private count = 0;

  /** Entries not yet merged (nor dropped). */
  get size(): number {
    return this.count;
  }

  /** The sequence number of the newest entry; 0 when there is none. */
  get lastSeq(): number {
    return this.queue.length > this.head ? this.queue[this.queue.length - 1].seq : 0;
  }

  /** The sequence number up to which merges have claimed entries. */
  get claimedThrough(): number {
    return this.claimedSeq;
  }

  add(entry: JournalEntry): void {
    assert.ok(entry.seq > this.lastSeq, "journal entries come in sequence order");
    let tracks = this.byVolume.get(entry.volser);
    if (tracks === undefined) {
      tracks = new Map();
      this.byVolume.set(entry.volser, tracks);
    }
    const list = tracks.get(entry.track);
    if (list === undefined) tracks.set(entry.track, [entry]);
    else list.push(entry);
    this.queue.push(entry);
    this.count += 1;
  }

  /** True when any track of [first, last] of the volume has entries. */
  has(volser: string, first: number, last: number): boolean {
    const tracks = this.byVolume.get(volser);
    if (tracks === undefined || tracks.size === 0) return false;
    if (last - first + 1 > tracks.size) {
      for (const track of tracks.keys()) if (track >= first && track <= last) return true;
      return false;
    }
    for (let track = first; track <= last; track += 1) if (tracks.has(track)) return true;
    return false;
  }

  /** True when the volume has entries. */
  hasVolume(volser: string): boolean {
    return (this.byVolume.get(volser)?.size ?? 0) > 0;
  }

  /** The entries of tracks [first, last] of the volume: by track, each track's in order. */
  entries(volser: string, first: number, last: number): JournalEntry[] {
    const tracks = this.byVolume.get(volser);
    if (tracks === undefined || tracks.size === 0) return [];
    const found: JournalEntry[] = [];
    if (last - first + 1 > tracks.size) {
      const keys = [...tracks.keys()].filter((track) => track >= first && track <= last);
      for (const track of keys.sort((a, b) => a - b)) found.push(...(tracks.get(track) ?? []));
      return found;
    }
    for (let track = first; track <= last; track += 1) {
      const list = tracks.get(track);
      if (list !== undefined) found.push(...list);
    }
    return found;
  }

  /**
   * Claims the oldest unclaimed entries for a merge: in sequence order until they cover
   * `maxTracks` tracks (at least one entry when there is any). Entries of deleted volumes are
   * passed over but claimed. Undefined when nothing is left to claim.
   */
  claim(maxTracks: number): MergeClaim | undefined {
    let at = this.head;
    while (at < this.queue.length && this.queue[at].seq <= this.claimedSeq) at += 1;
    if (at === this.queue.length) return undefined;
    const tracks = new Set<string>();
    const entries: JournalEntry[] = [];
    let throughSeq = this.claimedSeq;
    for (; at < this.queue.length; at += 1) {
      const entry = this.queue[at];
      const key = `${entry.volser}/${entry.track}`;
      if (!tracks.has(key) && tracks.size === maxTracks) break;
      throughSeq = entry.seq;
      if (this.dead.has(entry)) continue;
      tracks.add(key);
      entries.push(entry);
    }
    this.claimedSeq = throughSeq;
    return { throughSeq, entries };
  }

  /** Claims nothing more than what is claimed: a claim that failed is taken again from here. */
  unclaim(fromSeq: number): void {
    this.claimedSeq = Math.min(this.claimedSeq, fromSeq - 1);
  }

  /** Forgets every entry up to `seq` (merged into chunks, and the merge visible). */
  dropThrough(seq: number): void {
    while (this.head < this.queue.length && this.queue[this.head].seq <= seq) {
      const entry = this.queue[this.head];
      this.head += 1;
      if (this.dead.delete(entry)) continue;
      const tracks = this.byVolume.get(entry.volser);
      const list = tracks?.get(entry.track);
      assert.ok(list !== undefined && list[0] === entry, "a track's entries drop in order");
      list.shift();
      if (list.length === 0) tracks?.delete(entry.track);
      this.count -= 1;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** Forgets the entries of a deleted volume (of the given incarnation). */
  dropVolume(volser: string, incarnation: number): void {
    const tracks = this.byVolume.get(volser);
    if (tracks === undefined) return;
    for (const [track, list] of tracks) {
      const kept = list.filter((entry) => entry.incarnation !== incarnation);
      for (const entry of list) {
        if (entry.incarnation !== incarnation) continue;
        this.dead.add(entry);
        this.count -= 1;
      }
      if (kept.length === 0) tracks.delete(track);
      else tracks.set(track, kept);
    }
    if (tracks.size === 0) this.byVolume.delete(volser);
  }
}
