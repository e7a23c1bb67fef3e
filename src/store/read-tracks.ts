// Reads whole tracks for a copy to another system: the tracks of several runs of one volume, in
// one pass, into one buffer the caller owns (a pooled slab), each verified against its chunk's
// checksum, which is returned with it. The sender then sends that checksum with the bytes rather
// than hashing them again: the receiver's check against it catches a bad source chunk as well as
// a bad wire. So each byte is hashed once on each side.

import assert from "node:assert/strict";
import type { ChunkLocation } from "./chunk-device.js";
import { lookup, NONE } from "./mapping-tree.js";
import { checkByteRange, type StoreParts, verifyReads } from "./track-io.js";
import { treeOf, type VolumeRecord } from "./volume-record.js";

export interface TrackRun {
  readonly firstTrack: number;
  readonly count: number;
}

/** What a read of tracks returns for each slot, in order. */
export interface TrackReads {
  /** The track's stored checksum; undefined for an unmapped track (its slot is left as it was). */
  readonly checksums: (bigint | undefined)[];
  /**
   * The track's block checksums from its chunk record; undefined where unmapped or where the
   * record has none (a chunk written before block checksums).
   */
  readonly blockSums: (Buffer | undefined)[];
}

/** Reads the tracks of `runs` into consecutive track-sized slots of `into`, in order. */
export async function readTracksAsync(
  parts: StoreParts,
  volume: VolumeRecord,
  options: { readonly runs: readonly TrackRun[]; readonly into: Buffer },
): Promise<TrackReads> {
  const size = volume.geometry.trackSizeBytes;
  const reads: { location: ChunkLocation; target: Buffer; hash: bigint; track: number }[] = [];
  const checksums: (bigint | undefined)[] = [];
  const blockSums: (Buffer | undefined)[] = [];
  for (const run of options.runs) {
    const range = { offsetBytes: run.firstTrack * size, lengthBytes: run.count * size };
    checkByteRange(volume, range, "read");
    const chunkIds = lookup(parts.catalog, treeOf(volume), run);
    for (let i = 0; i < chunkIds.length; i += 1) {
      const slot = checksums.length;
      if (chunkIds[i] === NONE) {
        checksums.push(undefined);
        blockSums.push(undefined);
        continue;
      }
      const chunk = parts.catalog.getChunk(chunkIds[i]);
      assert.ok(chunk !== undefined, `chunk ${chunkIds[i]} exists`);
      assert.equal(chunk.location.lengthBytes, size);
      const target = options.into.subarray(slot * size, (slot + 1) * size);
      reads.push({ location: chunk.location, target, hash: chunk.hash, track: run.firstTrack + i });
      checksums.push(chunk.hash);
      blockSums.push(chunk.blockSums);
    }
  }
  assert.ok(checksums.length * size <= options.into.length, "the tracks fit the buffer");
  await parts.device.readManyAsync(reads);
  verifyReads(volume, reads);
  return { checksums, blockSums };
}
