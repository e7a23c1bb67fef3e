// The chunk device: where chunk images live. A small interface so that the local segment files,
// the memory device of the tests and (later) an object store are interchangeable; the catalog
// keeps everything else (reference counts, checksums, which chunk lives where).
//
// Chunks are appended to segments, one of which is active at a time; a chunk is never modified.
// A device whose segments may live elsewhere (an object store) reads them synchronously only when
// they are at hand (on local disk or in its cache); otherwise a synchronous read throws
// ChunkNotLocal, and the caller fetches them (fetch) and tries again.
// An append is not durable until sync() resolves. An append reserves its place at once and writes
// either synchronously (append, inside a catalog transaction) or in the background (appendAsync,
// before the transaction that records the chunks). Space whose transaction never commits is dead:
// the catalog does not know its chunks, and the collector reclaims it with its segment.

export interface ChunkLocation {
  readonly segment: number;
  /** Where the chunk's image starts in its segment (after its record header). */
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export interface ChunkImage {
  readonly id: number;
  readonly hash: bigint;
  readonly data: Buffer;
  /**
   * The image's block checksums (checksum.ts), for the catalog's chunk record: devices store
   * only the image and its header, and ignore them.
   */
  readonly blockSums?: Buffer;
}

/** A chunk found by scanning a segment: what its record header says. */
export interface ScannedChunk {
  readonly id: number;
  readonly hash: bigint;
  readonly location: ChunkLocation;
}

/** Bytes a chunk takes in a segment beyond its image: the record header. */
export const CHUNK_HEADER_BYTES = 32;

/**
 * Thrown by a synchronous read of chunks that are not at hand: the caller awaits
 * `device.fetch(locations)` and runs its transaction again.
 */
export class ChunkNotLocal extends Error {
  readonly locations: readonly ChunkLocation[];

  constructor(locations: readonly ChunkLocation[]) {
    super(`${locations.length} chunk(s) must be fetched before they can be read`);
    this.name = "ChunkNotLocal";
    this.locations = locations;
  }
}

export interface ChunkDevice {
  /** True when synchronous reads may throw ChunkNotLocal (segments kept elsewhere). */
  readonly remote: boolean;
  /** Appends chunk images to the active segment(s) and returns where each went. */
  append(images: readonly ChunkImage[]): ChunkLocation[];
  /**
   * Reserves places for chunk images at once and writes them in the background; `written`
   * settles when they are written (or fails with NO_SPACE or IO_ERROR). The caller keeps the
   * images unchanged until then.
   */
  appendAsync(images: readonly ChunkImage[]): {
    locations: ChunkLocation[];
    written: Promise<void>;
  };
  /** Reads a chunk image into `target` at `targetOffset`. */
  readInto(location: ChunkLocation, target: Buffer, targetOffset: number): void;
  /** Reads many chunk images, each into its own buffer of its length (fewer calls when adjacent). */
  readMany(reads: readonly { location: ChunkLocation; target: Buffer }[]): void;
  /** The same on the thread pool; a segment with reads under way is not removed. */
  readManyAsync(reads: readonly { location: ChunkLocation; target: Buffer }[]): Promise<void>;
  /**
   * Brings chunks at hand so that synchronous reads of them succeed for a while (a remote device
   * fetches them into its cache); a local device has them at hand already.
   */
  fetch(locations: readonly ChunkLocation[]): Promise<void>;
  /** The records of a segment from `fromOffsetBytes` on, at most `maxBytes` of them (at least one). */
  scan(segment: number, window: { fromOffsetBytes: number; maxBytes: number }): ScannedChunk[];
  /** True while background reads or writes of the segment are under way. */
  isBusy(segment: number): boolean;
  /** True for a segment appends go to now: the collector compacts it only once sealed. */
  isActive(segment: number): boolean;
  /** Ends appends to a segment (no-op for one that is not active): the next start a new one. */
  seal(segment: number): void;
  /** Sizes of the segments that exist, by id. */
  segmentSizes(): Map<number, number>;
  /** The size of one segment (0 if it does not exist): what a write records, without a copy of all. */
  segmentSize(segment: number): number;
  /**
   * A durability barrier: every append before it survives a crash once it resolves. The syncs run
   * on the thread pool (a flush of a copy's gigabytes must not stall the event loop), one after
   * another.
   */
  sync(): Promise<void>;
  /**
   * Cuts a sealed segment back to `sizeBytes`, past its last live chunk, giving the space of the
   * dead chunks after it back; false (nothing done) while reads or writes of it are under way.
   */
  cut(segment: number, sizeBytes: number): boolean;
  /** Deletes a segment whose chunks are all dead or moved (once its reads under way are done). */
  removeSegment(segment: number): void;
  /**
   * Resolves once the I/O that cut() and removeSegment() left running in the background (file
   * blocks freed on the thread pool) has ended: close() must not run under it.
   */
  settled(): Promise<void>;
  close(): void;
}
