// The chunk device: where chunk images live. A small interface so that the local segment files,
// the memory device of the tests and (later) an object store are interchangeable; the catalog
// keeps everything else (reference counts, checksums, which chunk lives where).
//
// Chunks are appended to segments, one of which is active at a time; a chunk is never modified.
// An append is not durable until sync() returns. The device works synchronously: the store calls it
// from inside a catalog transaction, and a transaction that aborts rewinds it to its mark.

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
}

/** A chunk found by scanning a segment: what its record header says. */
export interface ScannedChunk {
  readonly id: number;
  readonly hash: bigint;
  readonly location: ChunkLocation;
}

export interface DeviceMark {
  readonly segment: number;
  readonly sizeBytes: number;
}

/** Bytes a chunk takes in a segment beyond its image: the record header. */
export const CHUNK_HEADER_BYTES = 32;

export interface ChunkDevice {
  /** Appends chunk images to the active segment(s) and returns where each went. */
  append(images: readonly ChunkImage[]): ChunkLocation[];
  /** Reads a chunk image into `target` at `targetOffset`. */
  readInto(location: ChunkLocation, target: Buffer, targetOffset: number): void;
  /** Reads many chunk images, each into its own buffer of its length (fewer calls when adjacent). */
  readMany(reads: readonly { location: ChunkLocation; target: Buffer }[]): void;
  /** The records of a segment from `fromOffsetBytes` on, at most `maxBytes` of them (at least one). */
  scan(segment: number, window: { fromOffsetBytes: number; maxBytes: number }): ScannedChunk[];
  /** Where the next append goes; rewind(mark) drops everything appended since. */
  mark(): DeviceMark;
  rewind(mark: DeviceMark): void;
  /** The segment appends go to; the collector never compacts it. */
  activeSegment(): number;
  /** Sizes of the segments that exist, by id. */
  segmentSizes(): Map<number, number>;
  /** A durability barrier: every append before it survives a crash once it returns. */
  sync(): void;
  /** Deletes a segment whose chunks are all dead or moved. */
  removeSegment(segment: number): void;
  close(): void;
}
