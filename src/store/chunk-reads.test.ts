import { describe, expect, it } from "vitest";
import type { ChunkRecord } from "./catalog.js";
import { blockChecksums, chunkChecksum } from "./checksum.js";
import { planChunkRead, readIsIntact } from "./chunk-reads.js";

const SIZE = 14 * 4096;
const image = Buffer.alloc(SIZE, 7);
image.writeUInt32LE(0xdeadbeef, 5 * 4096 + 12);
const location = { segment: 3, offsetBytes: 1000, lengthBytes: SIZE };
const withBlocks: ChunkRecord = {
  location,
  refs: 1,
  hash: chunkChecksum(image),
  blockSums: blockChecksums(image),
};
const withoutBlocks: ChunkRecord = { location, refs: 1, hash: chunkChecksum(image) };

function plan(chunk: ChunkRecord, low: number, high: number) {
  return planChunkRead(chunk, { track: 9, low, high, window: Buffer.alloc(high - low) });
}

describe("chunk reads", () => {
  it("read a whole image into the window and check its chunk checksum", () => {
    const { read, copy } = plan(withBlocks, 0, SIZE);
    expect(read.location).toEqual(location);
    expect(read.blocks).toBeUndefined();
    expect(copy).toBeUndefined();
  });

  it("read whole blocks straight into the window and check their block checksums", () => {
    const { read, copy } = plan(withBlocks, 5 * 4096, 7 * 4096);
    expect(read.location).toEqual({ segment: 3, offsetBytes: 1000 + 5 * 4096, lengthBytes: 8192 });
    expect(read.blocks?.firstBlock).toBe(5);
    expect(copy).toBeUndefined();
    image.copy(read.target, 0, 5 * 4096, 7 * 4096);
    expect(readIsIntact(read)).toBe(true);
    read.target[4100] ^= 1;
    expect(readIsIntact(read)).toBe(false);
  });

  it("read the blocks around unaligned bytes into a buffer of their own, then copy", () => {
    const { read, copy } = plan(withBlocks, 4096 + 10, 2 * 4096 + 20);
    expect(read.location).toEqual({ segment: 3, offsetBytes: 1000 + 4096, lengthBytes: 8192 });
    expect(copy?.offsetBytes).toBe(10);
    expect(copy?.from).toBe(read.target);
  });

  it("read and check a whole image for any part of a chunk without block checksums", () => {
    const { read, copy } = plan(withoutBlocks, 4096, 8192);
    expect(read.location).toEqual(location);
    expect(read.blocks).toBeUndefined();
    expect(copy?.offsetBytes).toBe(4096);
    image.copy(read.target);
    expect(readIsIntact(read)).toBe(true);
  });
});
