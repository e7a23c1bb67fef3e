// The tracks of one GSC in copy order, and the checksum lists that describe them. The copy takes
// the tracks of P's extents in order; its position n is the n-th of them, and lands at the n-th
// track of the target extents. A checksum list is 8 bytes (xxHash64, big-endian) per position, as
// CHECKSUMS carries it, so lists are compared word by word without a BigInt per track. Pure.

import assert from "node:assert";
import { type Extent, extentTrackCount } from "../geometry/address.js";
import type { TrackRange } from "../pprc/track-feed.js";

/** Positions `firstPosition` to `firstPosition + count - 1` of a copy, in copy order. */
export interface PositionRun {
  readonly firstPosition: number;
  readonly count: number;
}

/** Bytes per checksum in a checksum list. */
export const CHECKSUM_BYTES = 8;

/** A checksum list of `sums`, in their order. */
export function checksumList(sums: readonly bigint[]): Buffer {
  const list = Buffer.alloc(sums.length * CHECKSUM_BYTES);
  for (let index = 0; index < sums.length; index += 1) {
    list.writeBigUInt64BE(sums[index], index * CHECKSUM_BYTES);
  }
  return list;
}

/** The positions at which two checksum lists of the same length differ, as runs. */
export function differingPositions(expected: Buffer, held: Buffer): PositionRun[] {
  assert.equal(held.length, expected.length, "the lists describe the same tracks");
  assert.equal(expected.length % CHECKSUM_BYTES, 0, "a checksum list holds whole checksums");
  const runs: PositionRun[] = [];
  if (held.equals(expected)) return runs;
  let open: { firstPosition: number; count: number } | undefined;
  for (let offset = 0; offset < expected.length; offset += CHECKSUM_BYTES) {
    const same =
      expected.readUInt32BE(offset) === held.readUInt32BE(offset) &&
      expected.readUInt32BE(offset + 4) === held.readUInt32BE(offset + 4);
    if (same) {
      open = undefined;
      continue;
    }
    if (open === undefined) {
      open = { firstPosition: offset / CHECKSUM_BYTES, count: 0 };
      runs.push(open);
    }
    open.count += 1;
  }
  return runs;
}

/** The checksums of `runs`, taken from a list of every position, in run order. */
export function gatherChecksums(list: Buffer, runs: readonly PositionRun[]): Buffer {
  return Buffer.concat(
    runs.map((run) =>
      list.subarray(
        run.firstPosition * CHECKSUM_BYTES,
        (run.firstPosition + run.count) * CHECKSUM_BYTES,
      ),
    ),
  );
}

/** The position of the `index`-th track of `runs` (in run order). */
export function positionAt(runs: readonly PositionRun[], index: number): number {
  let left = index;
  for (const run of runs) {
    if (left < run.count) return run.firstPosition + left;
    left -= run.count;
  }
  assert.fail(`index ${index} is past the runs' tracks`);
}

/** Positions in total: the tracks of `runs`. */
export function positionCount(runs: readonly PositionRun[]): number {
  return runs.reduce((sum, run) => sum + run.count, 0);
}

/**
 * The tracks where `runs` of a copy lie on a volume whose part in the copy is `extents` (P's
 * extents on the source side, S's target extents on the target), in copy order; a run that
 * crosses from one extent to the next is split there, and neighbouring tracks are joined.
 */
export function tracksAt(extents: readonly Extent[], runs: readonly PositionRun[]): TrackRange[] {
  const tracks: TrackRange[] = [];
  const push = (firstTrack: number, count: number) => {
    const last = tracks.at(-1);
    if (last !== undefined && last.firstTrack + last.count === firstTrack) {
      tracks[tracks.length - 1] = { firstTrack: last.firstTrack, count: last.count + count };
    } else tracks.push({ firstTrack, count });
  };
  let extentIndex = 0;
  let extentStart = 0; // The position of the first track of extents[extentIndex].
  for (const run of runs) {
    let position = run.firstPosition;
    let left = run.count;
    // Runs come in copy order, so the extent cursor only moves forward.
    if (position < extentStart) {
      extentIndex = 0;
      extentStart = 0;
    }
    while (left > 0) {
      assert.ok(extentIndex < extents.length, "a run lies within the copy");
      const extent = extents[extentIndex];
      const size = extentTrackCount(extent);
      if (position >= extentStart + size) {
        extentIndex += 1;
        extentStart += size;
        continue;
      }
      const count = Math.min(left, extentStart + size - position);
      push(extent.firstTrack + position - extentStart, count);
      position += count;
      left -= count;
    }
  }
  return tracks;
}
