// Whole-track writes of many runs at once, as a pair's secondary receives them: the tracks of
// every run are appended to the chunk device with one call (one writev per segment), recorded in
// the catalog, and mapped with one walk of the volume's mapping tree, so each leaf is written
// once per batch however scattered the tracks (a resync's out-of-sync tracks are). Their
// checksums were verified by the caller (the link checked each track) and are not computed again;
// their block checksums (checksum.ts), which the link does not carry, are: a second pass over the
// bytes on this side, the price of 4 KiB host reads that read 4 KiB.

import { GsnapError } from "../errors/gsnap-error.js";
import type { ChunkImage, ChunkLocation } from "./chunk-device.js";
import { assignSparse } from "./mapping-tree.js";
import { checkByteRange, newChunks, recordChunks, type StoreParts } from "./track-io.js";
import { treeOf, type VolumeRecord } from "./volume-record.js";

/**
 * A whole track image with its checksum (chunkChecksum of the bytes), already verified; no data:
 * the track is all zeroes (it is unmapped). Block checksums given come from the record of a chunk
 * with that checksum (a peer's, whose bytes the checksum verified): stored as they are instead of
 * hashing each block again.
 */
export interface ChecksummedTrack {
  readonly data: Buffer | undefined;
  readonly checksum: bigint;
  readonly blockSums?: Buffer;
}

export interface TrackRunWrite {
  readonly firstTrack: number;
  readonly tracks: readonly ChecksummedTrack[];
}

/** Runs of whole tracks on their way to the device, to be mapped by commitTrackWrites. */
export interface PreparedTrackWrites {
  readonly trackSizeBytes: number;
  /** Every track written, in increasing order, and the chunk each gets (NONE: unmapped). */
  readonly tracks: Float64Array;
  readonly chunkIds: Float64Array;
  readonly images: readonly ChunkImage[];
  readonly locations: readonly ChunkLocation[];
  /** Settles when the chunks are on the device. */
  readonly written: Promise<void>;
}

/**
 * Checks the runs against the volume and starts appending their chunks on the thread pool. Runs
 * must not overlap; they may come in any order.
 */
export function prepareTrackWrites(
  parts: StoreParts,
  volume: VolumeRecord,
  runs: readonly TrackRunWrite[],
): PreparedTrackWrites {
  const trackSizeBytes = volume.geometry.trackSizeBytes;
  const ordered = [...runs].sort((a, b) => a.firstTrack - b.firstTrack);
  const count = ordered.reduce((sum, run) => sum + run.tracks.length, 0);
  const tracks = new Float64Array(count);
  const images: (Buffer | undefined)[] = [];
  const checksums: bigint[] = [];
  const blockSums: (Buffer | undefined)[] = [];
  let at = 0;
  for (const run of ordered) {
    const range = {
      offsetBytes: run.firstTrack * trackSizeBytes,
      lengthBytes: run.tracks.length * trackSizeBytes,
    };
    checkByteRange(volume, range, "write");
    if (at > 0 && tracks[at - 1] >= run.firstTrack) {
      throw new GsnapError(
        "IO_OUT_OF_RANGE",
        `Cannot write track ${run.firstTrack} of volume "${volume.volser}" twice in one change`,
      );
    }
    run.tracks.forEach((track, i) => {
      if (track.data !== undefined && track.data.length !== trackSizeBytes) {
        throw new GsnapError(
          "IO_OUT_OF_RANGE",
          `Cannot write a track of ${track.data.length} bytes to volume "${volume.volser}": its tracks hold ${trackSizeBytes}`,
        );
      }
      tracks[at] = run.firstTrack + i;
      images.push(track.data);
      checksums.push(track.checksum);
      blockSums.push(track.blockSums);
      at += 1;
    });
  }
  const { chunkIds, images: chunks } = newChunks(parts, volume, images, { checksums, blockSums });
  const { locations, written } =
    chunks.length === 0
      ? { locations: [], written: Promise.resolve() }
      : parts.device.appendAsync(chunks);
  return { trackSizeBytes, tracks, chunkIds, images: chunks, locations, written };
}

/** The transaction half, run once the chunks are written: records and maps them. */
export function commitTrackWrites(
  parts: StoreParts,
  volume: VolumeRecord,
  prepared: PreparedTrackWrites,
): VolumeRecord {
  const size = prepared.trackSizeBytes;
  if (volume.geometry.trackSizeBytes !== size) {
    throw new GsnapError(
      "VOLUME_NOT_FOUND",
      `Cannot write volume "${volume.volser}": it was deleted and created anew during the write`,
    );
  }
  const last = prepared.tracks[prepared.tracks.length - 1] ?? 0;
  // A volume created anew with fewer cylinders may no longer hold the tracks.
  checkByteRange(volume, { offsetBytes: last * size, lengthBytes: size }, "write");
  recordChunks(parts, prepared.images, prepared.locations);
  // Every chunk id is new, recorded with the reference its track takes.
  const tree = assignSparse(parts.catalog, treeOf(volume), {
    tracks: prepared.tracks,
    chunkIds: prepared.chunkIds,
    born: true,
  });
  if (tree.root === volume.root) return volume;
  const updated = { ...volume, root: tree.root };
  parts.catalog.putVolume(updated);
  return updated;
}
