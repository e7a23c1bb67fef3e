// Which bytes of a chunk a read takes from the device, and how they are verified. A read of a
// whole track reads the image and checks its chunk checksum (xxHash64), the one the link and GSC
// compare. A read of part of a track reads only the 4 KiB blocks it covers and checks their block
// checksums, so a 4 KiB read costs a 4 KiB read and one 4 KiB hash, not 56 KiB of each; a chunk
// recorded without block checksums (store format 1) is read and checked whole, as before.
// Pure logic: the caller does the I/O.

import assert from "node:assert/strict";
import { GsnapError } from "../errors/gsnap-error.js";
import type { ChunkRecord } from "./catalog.js";
import { blocksMatch, CHECKSUM_BLOCK_BYTES, chunkChecksum } from "./checksum.js";
import type { ChunkLocation } from "./chunk-device.js";

/** One read from the chunk device and what its bytes must match. */
export interface ChunkRead {
  /** The bytes read: the whole image, or a run of its blocks. */
  readonly location: ChunkLocation;
  readonly target: Buffer;
  /** The track the chunk maps, for messages. */
  readonly track: number;
  /** The image's chunk checksum: what a read of the whole image is checked against. */
  readonly hash: bigint;
  /** For a read of some of the image's blocks: their checksums and the first block's index. */
  readonly blocks?: { readonly sums: Buffer; readonly firstBlock: number };
}

/** Where the bytes asked for lie in a read's target when the read could not land in place. */
export interface ChunkCopy {
  readonly from: Buffer;
  readonly offsetBytes: number;
}

/**
 * Plans the read of bytes [low, high) of a chunk's image into `window` (high - low bytes). The
 * read lands in the window itself when it covers whole blocks (every 4 KiB-aligned request);
 * otherwise it lands in a buffer of its own and `copy` says where the window's bytes are in it.
 */
export function planChunkRead(
  chunk: ChunkRecord,
  piece: { track: number; low: number; high: number; window: Buffer },
): { read: ChunkRead; copy?: ChunkCopy } {
  const { track, low, high, window } = piece;
  const { location, hash, blockSums } = chunk;
  const size = location.lengthBytes;
  assert.ok(0 <= low && low < high && high <= size, "the piece lies inside the image");
  assert.equal(window.length, high - low);
  if (low === 0 && high === size) {
    return { read: { location, target: window, track, hash } };
  }
  if (blockSums === undefined) {
    const image = Buffer.allocUnsafe(size);
    return {
      read: { location, target: image, track, hash },
      copy: { from: image, offsetBytes: low },
    };
  }
  const firstBlock = Math.floor(low / CHECKSUM_BLOCK_BYTES);
  const start = firstBlock * CHECKSUM_BLOCK_BYTES;
  const end = Math.min(Math.ceil(high / CHECKSUM_BLOCK_BYTES) * CHECKSUM_BLOCK_BYTES, size);
  const inPlace = start === low && end === high;
  const target = inPlace ? window : Buffer.allocUnsafe(end - start);
  const read: ChunkRead = {
    location: {
      segment: location.segment,
      offsetBytes: location.offsetBytes + start,
      lengthBytes: end - start,
    },
    target,
    track,
    hash,
    blocks: { sums: blockSums, firstBlock },
  };
  return inPlace ? { read } : { read, copy: { from: target, offsetBytes: low - start } };
}

/** Whether the bytes of a read match their checksums. */
export function readIsIntact(read: ChunkRead): boolean {
  if (read.blocks === undefined) return chunkChecksum(read.target) === read.hash;
  return blocksMatch(read.target, read.blocks);
}

/** Every read must match its checksums; the first that does not is CHUNK_CORRUPT. */
export function verifyChunkReads(volser: string, reads: readonly ChunkRead[]): void {
  for (const read of reads) {
    if (!readIsIntact(read)) {
      throw new GsnapError(
        "CHUNK_CORRUPT",
        `Cannot read track ${read.track} of volume "${volser}": its chunk fails its checksum`,
      );
    }
  }
}
