// Track I/O on one volume: read and write any byte range, zero a range, the allocation map. Each
// function runs synchronously against the catalog and the chunk device; the store wraps writes in
// a catalog change so each is all or nothing.
//
// A track is the unit of mapping: writing part of a track reads the old image, overlays the new
// bytes and stores a whole new chunk (read-modify-write). A track whose new image is all zeros is
// unmapped instead of stored, so zeroing and trimming both give the space back.

import assert from "node:assert/strict";
import { GsnapError } from "../errors/gsnap-error.js";
import type { Catalog } from "./catalog.js";
import { BLOCK_CHECKSUM_BYTES, blockChecksums, blockCount, chunkChecksum } from "./checksum.js";
import type { ChunkDevice, ChunkImage, ChunkLocation } from "./chunk-device.js";
import { type ChunkCopy, type ChunkRead, planChunkRead, verifyChunkReads } from "./chunk-reads.js";
import { assign, lookup, NONE } from "./mapping-tree.js";
import { treeOf, type VolumeRecord } from "./volume-record.js";
import { isZeroImage } from "./zero-image.js";

export interface StoreParts {
  readonly catalog: Catalog;
  readonly device: ChunkDevice;
}

export interface ByteRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

/** Refuses a byte range that is not inside the volume. */
export function checkByteRange(volume: VolumeRecord, range: ByteRange, action: string): void {
  const sizeBytes = treeOf(volume).trackCount * volume.geometry.trackSizeBytes;
  const { offsetBytes, lengthBytes } = range;
  const whole = Number.isSafeInteger(offsetBytes) && Number.isSafeInteger(lengthBytes);
  if (!whole || offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > sizeBytes) {
    throw new GsnapError(
      "IO_OUT_OF_RANGE",
      `Cannot ${action} ${lengthBytes} bytes at offset ${offsetBytes} of volume "${volume.volser}": ` +
        `it holds ${sizeBytes} bytes`,
    );
  }
}

/** Reads a byte range into `into` (exactly its length) or a new buffer. */
export function readRange(
  parts: StoreParts,
  volume: VolumeRecord,
  range: ByteRange,
  into?: Buffer,
): Buffer {
  const plan = planRead(parts, volume, range, into);
  parts.device.readMany(plan.reads);
  return finishRead(plan, volume);
}

/** The same, with the chunk reads on the thread pool: the kernel's copy overlaps other work. */
export async function readRangeAsync(
  parts: StoreParts,
  volume: VolumeRecord,
  range: ByteRange,
  into?: Buffer,
): Promise<Buffer> {
  const plan = planRead(parts, volume, range, into);
  await parts.device.readManyAsync(plan.reads);
  return finishRead(plan, volume);
}

interface ReadPlan {
  readonly range: ByteRange;
  readonly output: Buffer;
  readonly reads: ChunkRead[];
  /** Reads that could not land in the output: where their bytes are, and where they go. */
  readonly copies: { copy: ChunkCopy; window: Buffer }[];
}

/** Looks up the chunks of a range and says where each goes; zero-fills unmapped tracks. */
function planRead(
  parts: StoreParts,
  volume: VolumeRecord,
  range: ByteRange,
  into?: Buffer,
): ReadPlan {
  checkByteRange(volume, range, "read");
  assert.ok(
    into === undefined || into.length === range.lengthBytes,
    "the read buffer fits the range",
  );
  const output = into ?? Buffer.allocUnsafe(range.lengthBytes);
  const plan: ReadPlan = { range, output, reads: [], copies: [] };
  if (range.lengthBytes === 0) return plan;
  const trackSizeBytes = volume.geometry.trackSizeBytes;
  const firstTrack = Math.floor(range.offsetBytes / trackSizeBytes);
  const lastTrack = Math.floor((range.offsetBytes + range.lengthBytes - 1) / trackSizeBytes);
  const chunkIds = lookup(parts.catalog, treeOf(volume), {
    firstTrack,
    count: lastTrack - firstTrack + 1,
  });
  for (let i = 0; i < chunkIds.length; i += 1) {
    const trackStart = (firstTrack + i) * trackSizeBytes;
    const low = Math.max(range.offsetBytes, trackStart);
    const high = Math.min(range.offsetBytes + range.lengthBytes, trackStart + trackSizeBytes);
    const window = output.subarray(low - range.offsetBytes, high - range.offsetBytes);
    if (chunkIds[i] === NONE) {
      window.fill(0);
      continue;
    }
    const chunk = parts.catalog.getChunk(chunkIds[i]);
    if (chunk === undefined) assert.fail(`chunk ${chunkIds[i]} exists`);
    assert.equal(chunk.location.lengthBytes, trackSizeBytes);
    const piece = { track: firstTrack + i, low: low - trackStart, high: high - trackStart, window };
    const { read, copy } = planChunkRead(chunk, piece);
    plan.reads.push(read);
    if (copy !== undefined) plan.copies.push({ copy, window });
  }
  return plan;
}

/** Verifies every chunk read against its checksums and copies out what did not land in place. */
function finishRead(plan: ReadPlan, volume: VolumeRecord): Buffer {
  verifyReads(volume, plan.reads);
  for (const { copy, window } of plan.copies) {
    copy.from.copy(window, 0, copy.offsetBytes, copy.offsetBytes + window.length);
  }
  return plan.output;
}

/**
 * Whole track images read ahead of a change, with the chunk each came from (NONE: unmapped), so
 * that the change need not read them: it takes an image while its track still maps that chunk.
 */
export type TrackImages = Map<number, { readonly chunkId: number; readonly image: Buffer }>;

/** Reads whole tracks of a volume as they are now, each with the chunk it maps (verified). */
export async function readTrackImages(
  parts: StoreParts,
  volume: VolumeRecord,
  tracks: readonly number[],
  into?: Buffer,
): Promise<TrackImages> {
  const trackSizeBytes = volume.geometry.trackSizeBytes;
  assert.ok(
    into === undefined || into.length >= tracks.length * trackSizeBytes,
    "the images fit the buffer given",
  );
  const images: TrackImages = new Map();
  const reads: { location: ChunkLocation; target: Buffer; hash: bigint; track: number }[] = [];
  for (const [i, track] of tracks.entries()) {
    const [chunkId] = lookup(parts.catalog, treeOf(volume), { firstTrack: track, count: 1 });
    const chunk = chunkId === NONE ? undefined : parts.catalog.getChunk(chunkId);
    const image =
      into?.subarray(i * trackSizeBytes, (i + 1) * trackSizeBytes) ??
      Buffer.allocUnsafe(trackSizeBytes);
    if (chunk === undefined) image.fill(0);
    else reads.push({ location: chunk.location, target: image, hash: chunk.hash, track });
    images.set(track, { chunkId: chunk === undefined ? NONE : chunkId, image });
  }
  await parts.device.readManyAsync(reads);
  verifyReads(volume, reads);
  return images;
}

/** Every chunk read must match its stored checksums; the first that does not is CHUNK_CORRUPT. */
export function verifyReads(volume: VolumeRecord, reads: readonly ChunkRead[]): void {
  verifyChunkReads(volume.volser, reads);
}

/**
 * Writes `data` at `offsetBytes`; returns the volume record with its new root. A track covered in
 * part is read (from `readAhead` while its track still maps the chunk read there) and overlaid.
 */
export function writeRange(
  parts: StoreParts,
  volume: VolumeRecord,
  write: { offsetBytes: number; data: Buffer },
  readAhead?: TrackImages,
): VolumeRecord {
  const { offsetBytes, data } = write;
  checkByteRange(volume, { offsetBytes, lengthBytes: data.length }, "write");
  if (data.length === 0) return volume;
  const trackSizeBytes = volume.geometry.trackSizeBytes;
  const firstTrack = Math.floor(offsetBytes / trackSizeBytes);
  const lastTrack = Math.floor((offsetBytes + data.length - 1) / trackSizeBytes);
  const images: (Buffer | undefined)[] = [];
  for (let track = firstTrack; track <= lastTrack; track += 1) {
    const trackStart = track * trackSizeBytes;
    const low = Math.max(offsetBytes, trackStart);
    const high = Math.min(offsetBytes + data.length, trackStart + trackSizeBytes);
    let image: Buffer;
    if (high - low === trackSizeBytes) {
      image = data.subarray(low - offsetBytes, high - offsetBytes);
    } else {
      image =
        readAheadImage(parts, volume, track, readAhead) ??
        readRange(parts, volume, { offsetBytes: trackStart, lengthBytes: trackSizeBytes });
      data.copy(image, low - trackStart, low - offsetBytes, high - offsetBytes);
    }
    images.push(image);
  }
  return mapTracks(parts, volume, { firstTrack, images });
}

/** A track's image read ahead, taken (once) if the track still maps the chunk it came from. */
function readAheadImage(
  parts: StoreParts,
  volume: VolumeRecord,
  track: number,
  readAhead: TrackImages | undefined,
): Buffer | undefined {
  const ahead = readAhead?.get(track);
  if (ahead === undefined) return undefined;
  readAhead?.delete(track);
  const [chunkId] = lookup(parts.catalog, treeOf(volume), { firstTrack: track, count: 1 });
  return chunkId === ahead.chunkId ? ahead.image : undefined;
}

/** Zeroes a byte range: whole tracks are unmapped, partial ones rewritten. */
export function zeroRange(parts: StoreParts, volume: VolumeRecord, range: ByteRange): VolumeRecord {
  checkByteRange(volume, range, "zero");
  const split = splitByTracks(range, volume.geometry.trackSizeBytes);
  let updated = volume;
  for (const partial of split.partials) {
    updated = writeRange(parts, updated, {
      offsetBytes: partial.offsetBytes,
      data: Buffer.alloc(partial.lengthBytes),
    });
  }
  const chunkIds = new Float64Array(split.wholeTracks);
  return pointTracks(parts, updated, { firstTrack: split.firstWholeTrack, chunkIds });
}

/**
 * Splits a byte range into the tracks it covers whole and the (at most two) pieces of tracks it
 * covers in part, which need a read-modify-write. Pure.
 */
export function splitByTracks(
  range: ByteRange,
  trackSizeBytes: number,
): { firstWholeTrack: number; wholeTracks: number; partials: ByteRange[] } {
  const end = range.offsetBytes + range.lengthBytes;
  const firstWholeTrack = Math.ceil(range.offsetBytes / trackSizeBytes);
  const endWholeTrack = Math.floor(end / trackSizeBytes);
  if (endWholeTrack <= firstWholeTrack) {
    const partials = range.lengthBytes > 0 ? [range] : [];
    return { firstWholeTrack, wholeTracks: 0, partials };
  }
  const partials: ByteRange[] = [];
  const headBytes = firstWholeTrack * trackSizeBytes - range.offsetBytes;
  if (headBytes > 0) partials.push({ offsetBytes: range.offsetBytes, lengthBytes: headBytes });
  const tailStart = endWholeTrack * trackSizeBytes;
  if (tailStart < end) partials.push({ offsetBytes: tailStart, lengthBytes: end - tailStart });
  return { firstWholeTrack, wholeTracks: endWholeTrack - firstWholeTrack, partials };
}

/**
 * Stores the given track images as new chunks (undefined unmaps the track) and points the tracks
 * at them. Returns the volume record with its new root, written to the catalog if it changed.
 */
function mapTracks(
  parts: StoreParts,
  volume: VolumeRecord,
  tracks: { firstTrack: number; images: readonly (Buffer | undefined)[] },
): VolumeRecord {
  const { chunkIds, images } = newChunks(parts, volume, tracks.images);
  const locations = images.length === 0 ? [] : parts.device.append(images);
  recordChunks(parts, images, locations);
  return pointTracks(parts, volume, { firstTrack: tracks.firstTrack, chunkIds });
}

/**
 * Gives each non-zero image a chunk id, a checksum and block checksums (computed, or the ones
 * given, which the caller has verified against the bytes: block checksums come with the checksum
 * from the record of a chunk that holds the same bytes); NONE stands for the zero ones.
 */
export function newChunks(
  parts: StoreParts,
  volume: VolumeRecord,
  trackImages: readonly (Buffer | undefined)[],
  given: {
    readonly checksums?: readonly bigint[];
    readonly blockSums?: readonly (Buffer | undefined)[];
  } = {},
): { chunkIds: Float64Array; images: ChunkImage[] } {
  const { checksums, blockSums } = given;
  const chunkIds = new Float64Array(trackImages.length);
  const images: ChunkImage[] = [];
  trackImages.forEach((data, i) => {
    if (data === undefined || isZeroImage(data)) return;
    assert.equal(data.length, volume.geometry.trackSizeBytes);
    const id = parts.catalog.allocateChunkId();
    chunkIds[i] = id;
    const given = checksums?.[i];
    const hash = given ?? chunkChecksum(data);
    const sums = given === undefined ? undefined : blockSums?.[i];
    assert.ok(
      sums === undefined || sums.length === blockCount(data.length) * BLOCK_CHECKSUM_BYTES,
      "block checksums given cover the image's blocks",
    );
    images.push({ id, hash, data, blockSums: sums ?? blockChecksums(data) });
  });
  return { chunkIds, images };
}

/**
 * Records appended chunks in the catalog (no references yet) and their segments' new sizes: each
 * segment's recorded size grows to the end of its last chunk here.
 */
export function recordChunks(
  parts: StoreParts,
  images: readonly ChunkImage[],
  locations: readonly ChunkLocation[],
): void {
  const ends = new Map<number, number>();
  images.forEach((image, i) => {
    const location = locations[i];
    const { hash, blockSums } = image;
    parts.catalog.addChunk(image.id, { location, hash, blockSums });
    const end = location.offsetBytes + location.lengthBytes;
    if (end > (ends.get(location.segment) ?? 0)) ends.set(location.segment, end);
  });
  for (const [segment, end] of ends) parts.catalog.recordSegmentEnd(segment, end);
}

function pointTracks(
  parts: StoreParts,
  volume: VolumeRecord,
  tracks: { firstTrack: number; chunkIds: Float64Array },
): VolumeRecord {
  // Every chunk id given here is new, recorded with the reference this track takes.
  const tree = assign(parts.catalog, treeOf(volume), { ...tracks, born: true });
  if (tree.root === volume.root) return volume;
  const updated = { ...volume, root: tree.root };
  parts.catalog.putVolume(updated);
  return updated;
}

/**
 * A write split for speed: the tracks it covers whole are checksummed and written to the chunk
 * device in the background before its transaction; the tracks it covers in part are read,
 * overlaid and stored inside the transaction, where they cannot race another write.
 */
export interface PreparedWrite {
  readonly trackSizeBytes: number;
  readonly firstWholeTrack: number;
  readonly chunkIds: Float64Array;
  readonly images: readonly ChunkImage[];
  readonly locations: readonly ChunkLocation[];
  readonly partials: readonly { offsetBytes: number; data: Buffer }[];
  /** Settles when the whole tracks' chunks are on the device. */
  readonly written: Promise<void>;
}

export function prepareWrite(
  parts: StoreParts,
  volume: VolumeRecord,
  write: { offsetBytes: number; data: Buffer },
): PreparedWrite {
  const { offsetBytes, data } = write;
  checkByteRange(volume, { offsetBytes, lengthBytes: data.length }, "write");
  const trackSizeBytes = volume.geometry.trackSizeBytes;
  const split = splitByTracks({ offsetBytes, lengthBytes: data.length }, trackSizeBytes);
  const partials = split.partials.map((piece) => {
    const start = piece.offsetBytes - offsetBytes;
    return {
      offsetBytes: piece.offsetBytes,
      data: data.subarray(start, start + piece.lengthBytes),
    };
  });
  const wholeImages: Buffer[] = [];
  for (let i = 0; i < split.wholeTracks; i += 1) {
    const start = (split.firstWholeTrack + i) * trackSizeBytes - offsetBytes;
    wholeImages.push(data.subarray(start, start + trackSizeBytes));
  }
  const { chunkIds, images } = newChunks(parts, volume, wholeImages);
  return appendInBackground(parts, {
    trackSizeBytes,
    firstWholeTrack: split.firstWholeTrack,
    chunkIds,
    images,
    partials,
  });
}

/** Starts appending a write's new chunks on the thread pool; the write knows where they go. */
function appendInBackground(
  parts: StoreParts,
  write: Omit<PreparedWrite, "locations" | "written">,
): PreparedWrite {
  const { locations, written } =
    write.images.length === 0
      ? { locations: [], written: Promise.resolve() }
      : parts.device.appendAsync(write.images);
  return { ...write, locations, written };
}

/** The transaction half of a prepared write, run once its chunks are written. */
export function commitWrite(
  parts: StoreParts,
  volume: VolumeRecord,
  prepared: PreparedWrite,
  readAhead?: TrackImages,
): VolumeRecord {
  if (volume.geometry.trackSizeBytes !== prepared.trackSizeBytes) {
    throw new GsnapError(
      "VOLUME_NOT_FOUND",
      `Cannot write volume "${volume.volser}": it was deleted and created anew during the write`,
    );
  }
  // A volume created anew with fewer cylinders may no longer hold the tracks.
  const size = prepared.trackSizeBytes;
  checkByteRange(
    volume,
    { offsetBytes: prepared.firstWholeTrack * size, lengthBytes: prepared.chunkIds.length * size },
    "write",
  );
  recordChunks(parts, prepared.images, prepared.locations);
  let updated = pointTracks(parts, volume, {
    firstTrack: prepared.firstWholeTrack,
    chunkIds: prepared.chunkIds,
  });
  for (const partial of prepared.partials) {
    updated = writeRange(parts, updated, partial, readAhead);
  }
  return updated;
}

/** Where the chunks of the tracks that byte ranges touch are (unmapped tracks have none). */
export function trackLocations(
  parts: StoreParts,
  volume: VolumeRecord,
  ranges: readonly ByteRange[],
): ChunkLocation[] {
  const trackSizeBytes = volume.geometry.trackSizeBytes;
  const locations: ChunkLocation[] = [];
  for (const range of ranges) {
    if (range.lengthBytes === 0) continue;
    const firstTrack = Math.floor(range.offsetBytes / trackSizeBytes);
    const lastTrack = Math.floor((range.offsetBytes + range.lengthBytes - 1) / trackSizeBytes);
    const chunkIds = lookup(parts.catalog, treeOf(volume), {
      firstTrack,
      count: lastTrack - firstTrack + 1,
    });
    for (const id of chunkIds) {
      const chunk = id === NONE ? undefined : parts.catalog.getChunk(id);
      if (chunk !== undefined) locations.push(chunk.location);
    }
  }
  return locations;
}

/** Which tracks of [firstTrack, firstTrack + count) are mapped, as runs. */
export function allocationRuns(
  parts: StoreParts,
  volume: VolumeRecord,
  range: { firstTrack: number; count: number },
): { firstTrack: number; count: number; mapped: boolean }[] {
  const chunkIds = lookup(parts.catalog, treeOf(volume), range);
  const runs: { firstTrack: number; count: number; mapped: boolean }[] = [];
  for (let i = 0; i < chunkIds.length; i += 1) {
    const mapped = chunkIds[i] !== NONE;
    const last = runs.at(-1);
    if (last !== undefined && last.mapped === mapped) last.count += 1;
    else runs.push({ firstTrack: range.firstTrack + i, count: 1, mapped });
  }
  return runs;
}

/**
 * The stored checksum of each track of the range, from the catalog alone (no data is read):
 * 0n for an unmapped track, which reads as zeros. GSC compares these across systems.
 */
export function trackChecksums(
  parts: StoreParts,
  volume: VolumeRecord,
  range: { firstTrack: number; count: number },
): bigint[] {
  const chunkIds = lookup(parts.catalog, treeOf(volume), range);
  return Array.from(chunkIds, (id) => {
    if (id === NONE) return 0n;
    const hash = parts.catalog.chunkHash(id);
    if (hash === undefined) assert.fail("a mapped track's chunk is in the catalog");
    return hash;
  });
}
