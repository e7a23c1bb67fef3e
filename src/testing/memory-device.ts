// A chunk device in memory for tests, which can be told to fail: the next appends with ENOSPC or
// EIO, or a stored byte flipped so a read fails its checksum.

import assert from "node:assert/strict";
import { GsnapError } from "../errors/gsnap-error.js";
import {
  CHUNK_HEADER_BYTES,
  type ChunkDevice,
  type ChunkImage,
  type ChunkLocation,
  type ScannedChunk,
} from "../store/chunk-device.js";
import { decodeChunkHeader, encodeChunkHeader } from "../store/segment-format.js";

export class MemoryDevice implements ChunkDevice {
  readonly remote: boolean = false;
  private readonly segments = new Map<number, Buffer>();
  private readonly sizes = new Map<number, number>();
  private readonly maxSegmentBytes: number;
  private active: number;
  private failure: "NO_SPACE" | "IO_ERROR" | undefined;
  syncs = 0;

  constructor(options: { committedSizes: Map<number, number>; maxSegmentBytes?: number }) {
    this.maxSegmentBytes = options.maxSegmentBytes ?? 8 * 1024 * 1024;
    for (const [segment, size] of options.committedSizes) {
      this.segments.set(segment, Buffer.alloc(this.maxSegmentBytes + 1024 * 1024));
      this.sizes.set(segment, size);
    }
    this.active = Math.max(0, ...this.sizes.keys());
    if (this.active === 0) this.start(1);
  }

  /** Makes every append fail with `code` until cleared with undefined. */
  failAppends(code: "NO_SPACE" | "IO_ERROR" | undefined): void {
    this.failure = code;
  }

  /** Flips one byte of a stored chunk image. */
  corrupt(location: ChunkLocation): void {
    const buffer = this.segments.get(location.segment);
    assert.ok(buffer);
    buffer[location.offsetBytes] ^= 0xff;
  }

  append(images: readonly ChunkImage[]): ChunkLocation[] {
    if (this.failure !== undefined) {
      throw new GsnapError(
        this.failure,
        `Cannot append to segment ${this.active}: injected failure`,
      );
    }
    return images.map((image) => {
      const recordBytes = CHUNK_HEADER_BYTES + image.data.length;
      let position = this.sizes.get(this.active) ?? 0;
      if (position > 0 && position + recordBytes > this.maxSegmentBytes) {
        this.start(this.active + 1);
        position = 0;
      }
      const buffer = this.segments.get(this.active);
      assert.ok(buffer);
      encodeChunkHeader({ id: image.id, lengthBytes: image.data.length, hash: image.hash }).copy(
        buffer,
        position,
      );
      image.data.copy(buffer, position + CHUNK_HEADER_BYTES);
      this.sizes.set(this.active, position + recordBytes);
      return {
        segment: this.active,
        offsetBytes: position + CHUNK_HEADER_BYTES,
        lengthBytes: image.data.length,
      };
    });
  }

  readInto(location: ChunkLocation, target: Buffer, targetOffset: number): void {
    const buffer = this.segments.get(location.segment);
    assert.ok(buffer, `segment ${location.segment} exists`);
    buffer.copy(
      target,
      targetOffset,
      location.offsetBytes,
      location.offsetBytes + location.lengthBytes,
    );
  }

  readMany(reads: readonly { location: ChunkLocation; target: Buffer }[]): void {
    for (const read of reads) this.readInto(read.location, read.target, 0);
  }

  async fetch(_locations: readonly ChunkLocation[]): Promise<void> {
    // Local segments are always at hand.
  }

  scan(segment: number, window: { fromOffsetBytes: number; maxBytes: number }): ScannedChunk[] {
    const buffer = this.segments.get(segment);
    const size = this.sizes.get(segment) ?? 0;
    assert.ok(buffer);
    const found: ScannedChunk[] = [];
    let offset = window.fromOffsetBytes;
    while (
      offset < size &&
      (found.length === 0 || offset - window.fromOffsetBytes < window.maxBytes)
    ) {
      const header = decodeChunkHeader(
        buffer.subarray(offset, offset + CHUNK_HEADER_BYTES),
        `segment ${segment}`,
      );
      found.push({
        id: header.id,
        hash: header.hash,
        location: {
          segment,
          offsetBytes: offset + CHUNK_HEADER_BYTES,
          lengthBytes: header.lengthBytes,
        },
      });
      offset += CHUNK_HEADER_BYTES + header.lengthBytes;
    }
    return found;
  }

  appendAsync(images: readonly ChunkImage[]): {
    locations: ChunkLocation[];
    written: Promise<void>;
  } {
    try {
      return { locations: this.append(images), written: Promise.resolve() };
    } catch (error) {
      return { locations: [], written: Promise.reject(error) };
    }
  }

  isBusy(): boolean {
    return false;
  }

  async readManyAsync(
    reads: readonly { location: ChunkLocation; target: Buffer }[],
  ): Promise<void> {
    this.readMany(reads);
  }

  isActive(segment: number): boolean {
    return segment === this.active;
  }

  seal(segment: number): void {
    if (segment === this.active) this.start(this.active + 1);
  }

  segmentSize(segment: number): number {
    return this.sizes.get(segment) ?? 0;
  }

  segmentSizes(): Map<number, number> {
    return new Map(this.sizes);
  }

  async sync(): Promise<void> {
    this.syncs += 1;
  }

  cut(segment: number, sizeBytes: number): boolean {
    assert.ok(segment !== this.active, "an active segment is not cut");
    if (sizeBytes < this.segmentSize(segment)) this.sizes.set(segment, sizeBytes);
    return true;
  }

  removeSegment(segment: number): void {
    this.segments.delete(segment);
    this.sizes.delete(segment);
  }

  async settled(): Promise<void> {
    // Nothing runs in the background.
  }

  close(): void {}

  private start(segment: number): void {
    this.segments.set(segment, Buffer.alloc(this.maxSegmentBytes + 1024 * 1024));
    this.sizes.set(segment, 0);
    this.active = segment;
  }
}
