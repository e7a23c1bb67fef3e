// The checksums of a chunk image, from a native package (@node-rs/xxhash):
// - the chunk checksum, xxHash64 of the whole image (about 10 GB/s here): what the link and GSC
//   compare, and what a read of a whole track verifies;
// - block checksums, xxHash32 of each 4 KiB block of the image (btrfs keeps a crc32c per 4 KiB
//   block for the same reason): a read of part of a track reads and verifies only the blocks it
//   covers, so a 4 KiB read neither reads nor hashes 56 KiB.

import assert from "node:assert/strict";
import { xxh32, xxh64 } from "@node-rs/xxhash";

/** The bytes each block checksum covers: the 4 KiB blocks that NBD clients read and write. */
export const CHECKSUM_BLOCK_BYTES = 4096;

/** Bytes of one block checksum (an xxHash32, u32 little-endian). */
export const BLOCK_CHECKSUM_BYTES = 4;

export function chunkChecksum(data: Buffer): bigint {
  return xxh64(data);
}

/** How many blocks an image of `lengthBytes` has (the last may be short). */
export function blockCount(lengthBytes: number): number {
  return Math.ceil(lengthBytes / CHECKSUM_BLOCK_BYTES);
}

/** The block checksums of an image, one u32 LE per block, in order. */
export function blockChecksums(image: Buffer): Buffer {
  const sums = Buffer.allocUnsafe(blockCount(image.length) * BLOCK_CHECKSUM_BYTES);
  for (let block = 0; block * CHECKSUM_BLOCK_BYTES < image.length; block += 1) {
    const start = block * CHECKSUM_BLOCK_BYTES;
    const data = image.subarray(start, start + CHECKSUM_BLOCK_BYTES);
    sums.writeUInt32LE(xxh32(data), block * BLOCK_CHECKSUM_BYTES);
  }
  return sums;
}

/**
 * Whether `data`, the image's bytes from block `firstBlock` on (whole blocks, but for the image's
 * last, which may be short), matches the image's block checksums `sums`.
 */
export function blocksMatch(data: Buffer, check: { sums: Buffer; firstBlock: number }): boolean {
  const blocks = blockCount(data.length);
  assert.ok(
    (check.firstBlock + blocks) * BLOCK_CHECKSUM_BYTES <= check.sums.length,
    "the blocks read are blocks of the image",
  );
  for (let i = 0; i < blocks; i += 1) {
    const start = i * CHECKSUM_BLOCK_BYTES;
    const sum = xxh32(data.subarray(start, start + CHECKSUM_BLOCK_BYTES));
    if (sum !== check.sums.readUInt32LE((check.firstBlock + i) * BLOCK_CHECKSUM_BYTES)) {
      return false;
    }
  }
  return true;
}
