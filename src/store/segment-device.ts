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
  type ScannedChunk,
} from "./chunk-device.js";
import { encodeChunkHeader, scanRecords } from "./segment-format.js";
import { adjacentRuns, runBuffers } from "./segment-runs.js";
import { SyncReads } from "./sync-reads.js";

/** A new segment starts past 256 MiB: big enough for sequential I/O, small enough to compact. */
export const SEGMENT_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Segments appended to at once. Writes to one file serialize on its inode lock in the kernel, so
 * background appends rotate over three files (one per spare thread-pool thread; Node has four)
 * and the synchronous appends of transactions get a fourth, never waiting behind a big write.
 */
const LANES = 4;

/** Records that go to one segment at one position, written with one writev. */
interface WriteRun {
  readonly segment: number;
  readonly position: number;
  readonly buffers: Buffer[];
}

const SEGMENT_NAME = /^(\d{8})\.seg$/;

/**
 * Bytes appended to a segment in the background after which its writeback starts on the thread
 * pool, while appends go on. Linux starts writing dirty pages back only past a tenth of memory
 * (gigabytes here), so a copy's whole volume would otherwise wait for the flush that ends it
 * (GSC steps 512/520): 64 MiB spreads that over the copy and leaves the flush little to do.
 */
const EARLY_WRITEBACK_BYTES = 64 * 1024 * 1024;

export class SegmentDevice implements ChunkDevice {
  readonly remote = false;
  private readonly dir: string;
  private readonly maxSegmentBytes: number;
  private readonly fds = new Map<number, number>();
  private readonly sizes = new Map<number, number>();
  private readonly unsynced = new Set<number>();
  /** Settles when the last sync asked for has ended. */
  private syncing: Promise<void> = Promise.resolve();
  /** Bytes appended in the background per segment since its last early writeback began. */
  private readonly unwritten = new Map<number, number>();
  /** Background reads and writes under way per segment: such a segment is not removed. */
  private readonly busy = new Map<number, number>();
  /** Segments to remove once their reads and writes under way are done. */
  private readonly doomed = new Set<number>();
  /** Background cuts, deletes and writebacks under way, and who waits for them to end. */
  private background = 0;
  private readonly settledWaiters: (() => void)[] = [];
  /** The segment each lane appends to (0: none yet). Lane 0 takes synchronous appends. */
  private readonly lanes: number[] = new Array(LANES).fill(0);
  private nextSegment: number;
  private nextAsyncLane = 1;
  /** Which reads run on the main thread (those the page cache answers) and which on the pool. */
  readonly syncReads: SyncReads;

  /**
   * Opens the segments under `dir`, cutting each back to the size the catalog committed
   * (`committedSizes`) and deleting files the catalog does not know: both are appends whose
   * transaction never committed.
   */
  constructor(
    dir: string,
    options: {
      committedSizes: Map<number, number>;
      maxSegmentBytes?: number;
      /** New segments are numbered from past this one too (segments kept elsewhere). */
      lastKnownSegment?: number;
      /** The largest read done on the main thread (sync-reads.ts); 0 sends all to the pool. */
      syncReadMaxBytes?: number;
    },
  ) {
    this.dir = dir;
    this.syncReads = new SyncReads(options.syncReadMaxBytes);
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
    // A loop, not Math.max(...): a big store has more segments than a call takes arguments.
    let last = options.lastKnownSegment ?? 0;
    for (const segment of this.sizes.keys()) last = Math.max(last, segment);
    this.nextSegment = last + 1;
  }

  append(images: readonly ChunkImage[]): ChunkLocation[] {
    const { locations, runs } = this.reserve(images, 0);
    for (const run of runs) this.writeSyncAt(run);
    return locations;
  }

  appendAsync(images: readonly ChunkImage[]): {
    locations: ChunkLocation[];
    written: Promise<void>;
  } {
    const lane = this.nextAsyncLane;
    this.nextAsyncLane = lane + 1 < LANES ? lane + 1 : 1;
    const { locations, runs } = this.reserve(images, lane);
    const written = Promise.all(runs.map((run) => this.writeAsyncAt(run))).then(() => undefined);
    return { locations, written };
  }

  isBusy(segment: number): boolean {
    return (this.busy.get(segment) ?? 0) > 0;
  }

  /** Takes the places for the images now, starting new segments as needed; writes nothing. */
  private reserve(
    images: readonly ChunkImage[],
    lane: number,
  ): { locations: ChunkLocation[]; runs: WriteRun[] } {
    const locations: ChunkLocation[] = [];
    const runs: WriteRun[] = [];
    let run: WriteRun | undefined;
    // One buffer for every header of the append, off the V8 heap: a 32-byte Buffer of its own
    // lives on the heap, and handing dozens of those to writev cost a millisecond per call.
    const headers = Buffer.allocUnsafeSlow(CHUNK_HEADER_BYTES * images.length);
    for (const [index, image] of images.entries()) {
      const recordBytes = CHUNK_HEADER_BYTES + image.data.length;
      let segment = this.lanes[lane];
      let position = this.sizes.get(segment) ?? 0;
      if (segment === 0 || (position > 0 && position + recordBytes > this.maxSegmentBytes)) {
        try {
          segment = this.startSegment(lane);
        } catch (error) {
          // No file for the next segment (a full disk, no descriptor left): the places taken so
          // far are given back, so the device's sizes stay what was written.
          for (const placed of runs) this.takeBack(placed, byteCount(placed.buffers));
          throw error;
        }
        position = 0;
      }
      if (run?.segment !== segment) {
        run = { segment, position, buffers: [] };
        runs.push(run);
      }
      const header = { id: image.id, lengthBytes: image.data.length, hash: image.hash };
      const into = headers.subarray(index * CHUNK_HEADER_BYTES);
      run.buffers.push(encodeChunkHeader(header, into), image.data);
      locations.push({
        segment,
        offsetBytes: position + CHUNK_HEADER_BYTES,
        lengthBytes: image.data.length,
      });
      this.sizes.set(segment, position + recordBytes);
      this.unsynced.add(segment);
    }
    return { locations, runs };
  }

  readInto(location: ChunkLocation, target: Buffer, targetOffset: number): void {
    const fd = this.fds.get(location.segment);
    // The message is built only on failure: this runs on every read.
    if (fd === undefined) assert.fail(`segment ${location.segment} is open`);
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
    for (const run of adjacentRuns(reads)) this.readRun(run);
  }

  /**
   * Small reads run on the main thread while the page cache answers them (sync-reads.ts): a trip
   * through the thread pool costs more than the copy. Others go to the thread pool.
   */
  async readManyAsync(
    reads: readonly { location: ChunkLocation; target: Buffer }[],
  ): Promise<void> {
    let bytes = 0;
    for (const read of reads) bytes += read.location.lengthBytes;
    if (this.syncReads.allows(bytes)) {
      const startMs = performance.now();
      this.readMany(reads);
      this.syncReads.record(bytes, Math.round((performance.now() - startMs) * 1e6));
      return;
    }
    await Promise.all(adjacentRuns(reads).map((run) => this.readRunAsync(run)));
  }

  /**
   * A whole segment's bytes, read on the thread pool into the start of `into` (an upload of a
   * sealed segment reuses its buffers), or into a new buffer when `into` is too small.
   */
  async readWhole(segment: number, into?: Buffer): Promise<Buffer> {
    const fd = this.fdOf(segment);
    const sizeBytes = this.segmentSize(segment);
    const body =
      into !== undefined && into.length >= sizeBytes
        ? into.subarray(0, sizeBytes)
        : Buffer.allocUnsafe(sizeBytes);
    this.hold(segment);
    try {
      let done = 0;
      while (done < sizeBytes) {
        const read = await new Promise<number>((resolve, reject) =>
          fs.read(fd, body, done, sizeBytes - done, done, (error, bytes) =>
            error ? reject(error) : resolve(bytes),
          ),
        );
        if (read === 0) throw new Error(`the file ends at ${done} bytes, not ${sizeBytes}`);
        done += read;
      }
      return body;
    } catch (error) {
      throw deviceError(`read segment ${segment}`, error);
    } finally {
      this.done(segment);
    }
  }

  private async readRunAsync(
    run: readonly { location: ChunkLocation; target: Buffer }[],
  ): Promise<void> {
    const { segment, offsetBytes } = run[0].location;
    const fd = this.fdOf(segment);
    const { buffers, total } = runBuffers(run);
    this.hold(segment);
    try {
      const done = await new Promise<number>((resolve, reject) =>
        fs.readv(fd, buffers, offsetBytes, (error, bytes) =>
          error ? reject(error) : resolve(bytes),
        ),
      );
      // A short read (rare) falls back to reading each chunk on its own.
      if (done !== total) for (const read of run) this.readInto(read.location, read.target, 0);
    } catch (error) {
      throw deviceError(`read segment ${segment}`, error);
    } finally {
      this.done(segment);
    }
  }

  private readRun(run: readonly { location: ChunkLocation; target: Buffer }[]): void {
    if (run.length === 1) {
      this.readInto(run[0].location, run[0].target, 0);
      return;
    }
    const first = run[0].location;
    const fd = this.fdOf(first.segment);
    const { buffers, total } = runBuffers(run);
    let done: number;
    try {
      done = fs.readvSync(fd, buffers, first.offsetBytes);
    } catch (error) {
      throw deviceError(`read segment ${first.segment}`, error);
    }
    // A short read (rare) falls back to reading each chunk on its own.
    if (done !== total) for (const read of run) this.readInto(read.location, read.target, 0);
  }

  async fetch(_locations: readonly ChunkLocation[]): Promise<void> {
    // Local segments are always at hand.
  }

  scan(segment: number, window: { fromOffsetBytes: number; maxBytes: number }): ScannedChunk[] {
    const fd = this.fds.get(segment);
    const sizeBytes = this.sizes.get(segment);
    assert.ok(fd !== undefined && sizeBytes !== undefined, `segment ${segment} is open`);
    return scanRecords(segment, sizeBytes, window, (offset, header) => {
      fs.readSync(fd, header, 0, CHUNK_HEADER_BYTES, offset);
    });
  }

  /** Ends appends to a segment: the next append to its lane starts a new one. */
  seal(segment: number): void {
    const lane = this.lanes.indexOf(segment);
    if (lane >= 0) this.lanes[lane] = 0;
  }

  /** The segments appends go to now. */
  activeSegments(): number[] {
    return this.lanes.filter((segment) => segment !== 0);
  }

  isActive(segment: number): boolean {
    return this.lanes.includes(segment);
  }

  segmentSize(segment: number): number {
    return this.sizes.get(segment) ?? 0;
  }

  segmentSizes(): Map<number, number> {
    return new Map(this.sizes);
  }

  sync(): Promise<void> {
    // After the syncs before it, whether they failed or not: a barrier asked later must not
    // resolve while an earlier one is still writing back.
    const sync = this.syncing.then(
      () => this.syncUnsynced(),
      () => this.syncUnsynced(),
    );
    this.syncing = sync;
    return sync;
  }

  /** Syncs the segments appended to since the last sync, in parallel on the thread pool. */
  private async syncUnsynced(): Promise<void> {
    const segments = [...this.unsynced];
    this.unsynced.clear();
    try {
      await Promise.all(segments.map((segment) => this.syncSegment(segment)));
    } catch (error) {
      // Not known to be durable: the next barrier syncs them again.
      for (const segment of segments) this.unsynced.add(segment);
      throw error;
    }
  }

  private async syncSegment(segment: number): Promise<void> {
    const fd = this.fds.get(segment);
    if (fd === undefined) return;
    this.hold(segment);
    try {
      await new Promise<void>((resolve, reject) =>
        fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())),
      );
    } catch (error) {
      throw deviceError(`sync segment ${segment}`, error);
    } finally {
      this.done(segment);
    }
  }

  cut(segment: number, sizeBytes: number): boolean {
    assert.ok(!this.isActive(segment), "an active segment is not cut");
    const fd = this.fds.get(segment);
    if (fd === undefined || this.isBusy(segment)) return false;
    if (sizeBytes >= this.segmentSize(segment)) return true;
    // Freeing a file's blocks takes the filesystem milliseconds: it runs on the thread pool, the
    // segment held so that it is not removed (its descriptor closed) meanwhile. A cut that fails
    // leaves dead bytes that the next open cuts (it keeps the size the catalog recorded).
    this.sizes.set(segment, sizeBytes);
    this.inBackground((finished) => fs.ftruncate(fd, sizeBytes, finished), segment);
    return true;
  }

  removeSegment(segment: number): void {
    assert.ok(!this.isActive(segment), "an active segment stays");
    if (this.isBusy(segment)) {
      // A read that looked its chunks up before they moved is still reading: remove it after.
      this.doomed.add(segment);
      return;
    }
    const fd = this.fds.get(segment);
    this.fds.delete(segment);
    this.sizes.delete(segment);
    this.unsynced.delete(segment);
    this.unwritten.delete(segment);
    // Deleting a file of tens of MiB takes the filesystem milliseconds: it runs on the thread
    // pool. Nothing names the segment any more (numbers are not reused); a file left by a crash
    // or a failed delete is removed at the next open, since the catalog does not record it.
    const file = this.fileOf(segment);
    this.inBackground((finished) => {
      const remove = () => fs.rm(file, { force: true }, finished);
      if (fd === undefined) remove();
      else fs.close(fd, remove);
    });
  }

  settled(): Promise<void> {
    if (this.background === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private startSegment(lane: number): number {
    const segment = this.nextSegment++;
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC;
    let fd: number;
    try {
      fd = fs.openSync(this.fileOf(segment), flags);
    } catch (error) {
      throw deviceError(`start segment ${segment}`, error);
    }
    this.fds.set(segment, fd);
    this.sizes.set(segment, 0);
    this.lanes[lane] = segment;
    return segment;
  }

  private writeSyncAt(run: WriteRun): void {
    const fd = this.fdOf(run.segment);
    const total = run.buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    try {
      let written = fs.writevSync(fd, run.buffers, run.position);
      // A short write is rare (a signal, a nearly full disk); finish it from one buffer.
      if (written < total) {
        const all = Buffer.concat(run.buffers);
        while (written < total) {
          written += fs.writeSync(fd, all, written, total - written, run.position + written);
        }
      }
    } catch (error) {
      this.takeBack(run, total);
      throw deviceError(`append to segment ${run.segment}`, error);
    }
  }

  /** Writes a run on the thread pool, so the kernel's copy overlaps the main thread's work. */
  private async writeAsyncAt(run: WriteRun): Promise<void> {
    const fd = this.fdOf(run.segment);
    const runBytes = byteCount(run.buffers);
    this.hold(run.segment);
    try {
      let buffers = run.buffers;
      let position = run.position;
      for (;;) {
        const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
        const { bytesWritten } = await new Promise<{ bytesWritten: number }>((resolve, reject) =>
          fs.writev(fd, buffers, position, (error, bytes) =>
            error ? reject(error) : resolve({ bytesWritten: bytes }),
          ),
        );
        if (bytesWritten >= total) {
          this.writtenBack(run.segment, bytesWritten);
          return;
        }
        // A short write: go on with the rest.
        buffers = [Buffer.concat(buffers).subarray(bytesWritten)];
        position += bytesWritten;
      }
    } catch (error) {
      this.takeBack(run, runBytes);
      throw deviceError(`append to segment ${run.segment}`, error);
    } finally {
      this.done(run.segment);
    }
  }

  /**
   * A failed append's place: when nothing was placed after it, the segment ends where the append
   * began again, and what the append wrote before it failed is cut off (on a full disk, its
   * blocks come back). Otherwise the place stays dead, as an append whose change never commits.
   * Nothing recorded it: a change records its chunks only once they are written.
   */
  private takeBack(run: WriteRun, runBytes: number): void {
    if (this.sizes.get(run.segment) !== run.position + runBytes) return;
    this.sizes.set(run.segment, run.position);
    const fd = this.fds.get(run.segment);
    try {
      if (fd !== undefined) fs.ftruncateSync(fd, run.position);
    } catch {
      // The bytes past the end stay until the next open cuts the file to its committed size.
    }
  }

  /**
   * Counts bytes appended in the background and, past EARLY_WRITEBACK_BYTES, starts the segment's
   * writeback on the thread pool (an fdatasync nobody waits for). It is a head start, not a
   * promise: only sync() makes anything durable, and a failure here is left to sync() to report.
   */
  private writtenBack(segment: number, bytes: number): void {
    const unwritten = (this.unwritten.get(segment) ?? 0) + bytes;
    if (unwritten < EARLY_WRITEBACK_BYTES) {
      this.unwritten.set(segment, unwritten);
      return;
    }
    this.unwritten.set(segment, 0);
    const fd = this.fds.get(segment);
    if (fd === undefined) return;
    this.inBackground((finished) => fs.fdatasync(fd, finished), segment);
  }

  /**
   * Starts I/O that nobody awaits (a cut, a delete, an early writeback); settled() waits for it,
   * so that close() never closes a descriptor under it, and `segment`, when given, is held (not
   * removed) until it ends. Its errors are ignored by design: see the callers.
   */
  private inBackground(start: (finished: () => void) => void, segment?: number): void {
    this.background += 1;
    if (segment !== undefined) this.hold(segment);
    start(() => {
      if (segment !== undefined) this.done(segment);
      this.background -= 1;
      if (this.background === 0) for (const resolve of this.settledWaiters.splice(0)) resolve();
    });
  }

  /** One background read, write or sync of the segment begins: it is not removed meanwhile. */
  private hold(segment: number): void {
    this.busy.set(segment, (this.busy.get(segment) ?? 0) + 1);
  }

  /** One background read or write of the segment ended. */
  private done(segment: number): void {
    const left = (this.busy.get(segment) ?? 1) - 1;
    this.busy.set(segment, left);
    if (left === 0 && this.doomed.delete(segment)) this.removeSegment(segment);
  }

  private fdOf(segment: number): number {
    const fd = this.fds.get(segment);
    if (fd === undefined) assert.fail(`segment ${segment} is open`);
    return fd;
  }

  private fileOf(segment: number): string {
    return path.join(this.dir, `${String(segment).padStart(8, "0")}.seg`);
  }
}

function byteCount(buffers: readonly Buffer[]): number {
  return buffers.reduce((sum, buffer) => sum + buffer.length, 0);
}

export function deviceError(action: string, error: unknown): GsnapError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new GsnapError("NO_SPACE", `Cannot ${action}: the disk is full`, { cause: error });
  }
  return new GsnapError("IO_ERROR", `Cannot ${action}: ${String(error)}`, { cause: error });
}
