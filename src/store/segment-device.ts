// The local chunk device: chunk records appended to segment files `segments/NNNNNNNN.seg` in the
// data dir (format in segment-format.ts and docs/store-format.md). Synchronous file I/O: the store
// calls it inside a catalog transaction, and page-cache reads and appends of a track take tens of
// microseconds, less than handing them to the thread pool would.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";
import {
  CHUNK_HEADER_BYTES,
  type ChunkDevice,
  type ChunkImage,
  type ChunkLocation,
  type DeviceMark,
  type ScannedChunk,
} from "./chunk-device.js";
import { decodeChunkHeader, encodeChunkHeader } from "./segment-format.js";

/** A new segment starts past 256 MiB: big enough for sequential I/O, small enough to compact. */
export const SEGMENT_MAX_BYTES = 256 * 1024 * 1024;

/** readv takes at most 1,024 buffers (IOV_MAX); a chunk and a header take two. */
const MAX_CHUNKS_PER_READ = 500;

/** Where the headers between adjacent chunks go when a run of chunks is read at once. */
const skippedHeader = Buffer.alloc(CHUNK_HEADER_BYTES);

const SEGMENT_NAME = /^(\d{8})\.seg$/;

export class SegmentDevice implements ChunkDevice {
  private readonly dir: string;
  private readonly maxSegmentBytes: number;
  private readonly fds = new Map<number, number>();
  private readonly sizes = new Map<number, number>();
  private readonly unsynced = new Set<number>();
  private active: number;

  /**
   * Opens the segments under `dir`, cutting each back to the size the catalog committed
   * (`committedSizes`) and deleting files the catalog does not know: both are appends whose
   * transaction never committed.
   */
  constructor(
    dir: string,
    options: { committedSizes: Map<number, number>; maxSegmentBytes?: number },
  ) {
    this.dir = dir;
    this.maxSegmentBytes = options.maxSegmentBytes ?? SEGMENT_MAX_BYTES;
    fs.mkdirSync(dir, { recursive: true });
    for (const name of fs.readdirSync(dir)) {
      const match = SEGMENT_NAME.exec(name);
      if (match === null) continue;
      const segment = Number(match[1]);
      const committed = options.committedSizes.get(segment);
      if (committed === undefined) fs.rmSync(path.join(dir, name));
    }
    for (const [segment, sizeBytes] of options.committedSizes) {
      const fd = fs.openSync(this.fileOf(segment), fs.constants.O_RDWR | fs.constants.O_CREAT);
      if (fs.fstatSync(fd).size !== sizeBytes) fs.ftruncateSync(fd, sizeBytes);
      this.fds.set(segment, fd);
      this.sizes.set(segment, sizeBytes);
    }
    this.active = Math.max(0, ...this.sizes.keys());
    if (this.active === 0) this.startSegment(1);
  }

  append(images: readonly ChunkImage[]): ChunkLocation[] {
    const locations: ChunkLocation[] = [];
    let batch: Buffer[] = [];
    let batchStart = this.sizes.get(this.active) ?? 0;
    let position = batchStart;
    for (const image of images) {
      const recordBytes = CHUNK_HEADER_BYTES + image.data.length;
      if (position > 0 && position + recordBytes > this.maxSegmentBytes) {
        this.writeAt(batch, batchStart);
        batch = [];
        this.startSegment(this.active + 1);
        batchStart = 0;
        position = 0;
      }
      const header = { id: image.id, lengthBytes: image.data.length, hash: image.hash };
      batch.push(encodeChunkHeader(header), image.data);
      locations.push({
        segment: this.active,
        offsetBytes: position + CHUNK_HEADER_BYTES,
        lengthBytes: image.data.length,
      });
      position += recordBytes;
    }
    this.writeAt(batch, batchStart);
    return locations;
  }

  readInto(location: ChunkLocation, target: Buffer, targetOffset: number): void {
    const fd = this.fds.get(location.segment);
    assert.ok(fd !== undefined, `segment ${location.segment} is open`);
    let done = 0;
    try {
      while (done < location.lengthBytes) {
        const read = fs.readSync(
          fd,
          target,
          targetOffset + done,
          location.lengthBytes - done,
          location.offsetBytes + done,
        );
        if (read === 0) break;
        done += read;
      }
    } catch (error) {
      throw deviceError(`read segment ${location.segment}`, error);
    }
    if (done !== location.lengthBytes) {
      throw new GsnapError(
        "CHUNK_CORRUPT",
        `Cannot read chunk at segment ${location.segment} offset ${location.offsetBytes}: ` +
          "the segment ends before the chunk does",
      );
    }
  }

  readMany(reads: readonly { location: ChunkLocation; target: Buffer }[]): void {
    let start = 0;
    while (start < reads.length) {
      // Chunks appended one after another lie one header apart: read a run of them with one
      // readv, the headers between them into a scratch buffer.
      let end = start + 1;
      while (
        end < reads.length &&
        end - start < MAX_CHUNKS_PER_READ &&
        reads[end].location.segment === reads[start].location.segment &&
        reads[end].location.offsetBytes ===
          reads[end - 1].location.offsetBytes +
            reads[end - 1].location.lengthBytes +
            CHUNK_HEADER_BYTES
      ) {
        end += 1;
      }
      this.readRun(reads.slice(start, end));
      start = end;
    }
  }

  private readRun(run: readonly { location: ChunkLocation; target: Buffer }[]): void {
    if (run.length === 1) {
      this.readInto(run[0].location, run[0].target, 0);
      return;
    }
    const first = run[0].location;
    const fd = this.fds.get(first.segment);
    assert.ok(fd !== undefined, `segment ${first.segment} is open`);
    const buffers: Buffer[] = [];
    let total = 0;
    run.forEach((read, i) => {
      assert.equal(read.target.length, read.location.lengthBytes);
      if (i > 0) buffers.push(skippedHeader);
      buffers.push(read.target);
      total += read.target.length + (i > 0 ? CHUNK_HEADER_BYTES : 0);
    });
    let done: number;
    try {
      done = fs.readvSync(fd, buffers, first.offsetBytes);
    } catch (error) {
      throw deviceError(`read segment ${first.segment}`, error);
    }
    // A short read (rare) falls back to reading each chunk on its own.
    if (done !== total) for (const read of run) this.readInto(read.location, read.target, 0);
  }

  scan(segment: number, window: { fromOffsetBytes: number; maxBytes: number }): ScannedChunk[] {
    const fd = this.fds.get(segment);
    const sizeBytes = this.sizes.get(segment);
    assert.ok(fd !== undefined && sizeBytes !== undefined, `segment ${segment} is open`);
    const found: ScannedChunk[] = [];
    const header = Buffer.alloc(CHUNK_HEADER_BYTES);
    let offset = window.fromOffsetBytes;
    while (
      offset < sizeBytes &&
      (found.length === 0 || offset - window.fromOffsetBytes < window.maxBytes)
    ) {
      fs.readSync(fd, header, 0, CHUNK_HEADER_BYTES, offset);
      const decoded = decodeChunkHeader(header, `segment ${segment} offset ${offset}`);
      const location = {
        segment,
        offsetBytes: offset + CHUNK_HEADER_BYTES,
        lengthBytes: decoded.lengthBytes,
      };
      found.push({ id: decoded.id, hash: decoded.hash, location });
      offset += CHUNK_HEADER_BYTES + decoded.lengthBytes;
    }
    return found;
  }

  mark(): DeviceMark {
    return { segment: this.active, sizeBytes: this.sizes.get(this.active) ?? 0 };
  }

  rewind(mark: DeviceMark): void {
    for (let segment = this.active; segment > mark.segment; segment -= 1) {
      this.removeSegment(segment);
    }
    this.active = mark.segment;
    const fd = this.fds.get(mark.segment);
    assert.ok(fd !== undefined);
    fs.ftruncateSync(fd, mark.sizeBytes);
    this.sizes.set(mark.segment, mark.sizeBytes);
  }

  activeSegment(): number {
    return this.active;
  }

  segmentSizes(): Map<number, number> {
    return new Map(this.sizes);
  }

  sync(): void {
    for (const segment of this.unsynced) {
      const fd = this.fds.get(segment);
      if (fd === undefined) continue;
      try {
        fs.fdatasyncSync(fd);
      } catch (error) {
        throw deviceError(`sync segment ${segment}`, error);
      }
    }
    this.unsynced.clear();
  }

  removeSegment(segment: number): void {
    assert.ok(segment !== this.active || this.fds.size > 1, "the only segment stays");
    const fd = this.fds.get(segment);
    if (fd !== undefined) fs.closeSync(fd);
    this.fds.delete(segment);
    this.sizes.delete(segment);
    this.unsynced.delete(segment);
    fs.rmSync(this.fileOf(segment), { force: true });
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private startSegment(segment: number): void {
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC;
    this.fds.set(segment, fs.openSync(this.fileOf(segment), flags));
    this.sizes.set(segment, 0);
    this.active = segment;
  }

  private writeAt(buffers: Buffer[], position: number): void {
    if (buffers.length === 0) return;
    const fd = this.fds.get(this.active);
    assert.ok(fd !== undefined);
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    try {
      let written = fs.writevSync(fd, buffers, position);
      // A short write is rare (a signal, a nearly full disk); finish it from one buffer.
      if (written < total) {
        const all = Buffer.concat(buffers);
        while (written < total) {
          written += fs.writeSync(fd, all, written, total - written, position + written);
        }
      }
    } catch (error) {
      fs.ftruncateSync(fd, position);
      throw deviceError(`append to segment ${this.active}`, error);
    }
    this.sizes.set(this.active, position + total);
    this.unsynced.add(this.active);
  }

  private fileOf(segment: number): string {
    return path.join(this.dir, `${String(segment).padStart(8, "0")}.seg`);
  }
}

function deviceError(action: string, error: unknown): GsnapError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new GsnapError("NO_SPACE", `Cannot ${action}: the disk is full`, { cause: error });
  }
  return new GsnapError("IO_ERROR", `Cannot ${action}: ${String(error)}`, { cause: error });
}
