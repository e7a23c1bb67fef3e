// Journaled pieces laid over track bytes: what a read, a copy or a merge sees of a track is its
// chunk (or zeros) with the track's journal entries applied in the order they were written. Pure.

import type { JournalPiece } from "./journal.js";
import type { JournalEntry } from "./journal-index.js";

/** A journal entry with its data at hand (a zero entry has none). */
export interface LoadedEntry {
  readonly entry: JournalEntry;
  readonly data: Buffer | undefined;
}

/**
 * Applies entries, in order, to `target`, which holds the volume's bytes from `targetStart` on;
 * each entry touches only the part of `target` it overlaps.
 */
export function applyEntries(
  target: Buffer,
  targetStart: number,
  trackSizeBytes: number,
  entries: readonly LoadedEntry[],
): void {
  const targetEnd = targetStart + target.length;
  for (const { entry, data } of entries) {
    const entryStart = entry.track * trackSizeBytes + entry.offsetBytes;
    const low = Math.max(entryStart, targetStart);
    const high = Math.min(entryStart + entry.lengthBytes, targetEnd);
    if (low >= high) continue;
    if (data === undefined) target.fill(0, low - targetStart, high - targetStart);
    else data.copy(target, low - targetStart, low - entryStart, high - entryStart);
  }
}

/** The entries of one track, grouped from entries that come by track, each track's in order. */
export function byTrack<T extends { readonly entry: JournalEntry }>(
  entries: readonly T[],
): Map<number, T[]> {
  const tracks = new Map<number, T[]>();
  for (const item of entries) {
    const list = tracks.get(item.entry.track);
    if (list === undefined) tracks.set(item.entry.track, [item]);
    else list.push(item);
  }
  return tracks;
}

/**
 * The journal pieces of a write (or, without data, a zero) of a byte range of a volume: one per
 * track it touches, each with the bytes of that track it covers.
 */
export function piecesOf(
  volume: {
    readonly volser: string;
    readonly incarnation: number;
    readonly trackSizeBytes: number;
  },
  range: { readonly offsetBytes: number; readonly lengthBytes: number },
  data?: Buffer,
): JournalPiece[] {
  const size = volume.trackSizeBytes;
  const end = range.offsetBytes + range.lengthBytes;
  const pieces: JournalPiece[] = [];
  for (let at = range.offsetBytes; at < end; ) {
    const track = Math.floor(at / size);
    const pieceEnd = Math.min(end, (track + 1) * size);
    const offsetBytes = at - track * size;
    pieces.push({
      kind: data === undefined ? "zero" : "write",
      volser: volume.volser,
      incarnation: volume.incarnation,
      track,
      offsetBytes,
      lengthBytes: pieceEnd - at,
      data: data?.subarray(at - range.offsetBytes, pieceEnd - range.offsetBytes),
    });
    at = pieceEnd;
  }
  return pieces;
}

/**
 * Splits a write or zero of a byte range into what goes to the journal (pieces of tracks it
 * covers in part, and whole tracks that have journal entries, which it must land after) and what
 * maps whole tracks directly (runs of whole tracks without entries). Pure.
 */
export function routeRange(
  range: { readonly offsetBytes: number; readonly lengthBytes: number },
  trackSizeBytes: number,
  journaled: (track: number) => boolean,
): { journal: ByteRange[]; direct: ByteRange[] } {
  const journal: ByteRange[] = [];
  const direct: ByteRange[] = [];
  const end = range.offsetBytes + range.lengthBytes;
  for (let at = range.offsetBytes; at < end; ) {
    const track = Math.floor(at / trackSizeBytes);
    const pieceEnd = Math.min(end, (track + 1) * trackSizeBytes);
    const whole = pieceEnd - at === trackSizeBytes;
    const list = whole && !journaled(track) ? direct : journal;
    const tail = list.at(-1);
    if (tail !== undefined && tail.offsetBytes + tail.lengthBytes === at) {
      list[list.length - 1] = {
        offsetBytes: tail.offsetBytes,
        lengthBytes: pieceEnd - tail.offsetBytes,
      };
    } else {
      list.push({ offsetBytes: at, lengthBytes: pieceEnd - at });
    }
    at = pieceEnd;
  }
  return { journal, direct };
}

interface ByteRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}
