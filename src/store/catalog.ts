// The catalog: everything the store knows besides chunk images, in LMDB (the `lmdb` package). One
// LMDB transaction per logical change (a write, a snap, a delete, a collector step) makes each
// change all or nothing; LMDB's copy-on-write B-tree keeps the file consistent after any crash.
//
// Databases (layouts in docs/store-format.md):
//   meta      "format" -> { version }; "chunks" -> where chunks are kept ("local", "s3://b/p")
//   volumes   VOLSER -> VolumeRecord
//   nodes     node id -> mapping tree node (level byte, 7 reserved, FANOUT float64 entries)
//   nodeRefs  node id -> reference count
//   orphans   node id -> true: nodes whose count reached zero, their children not yet released
//   chunks    chunk id -> 32-byte record (segment, refs, offset, length, hash)
//   segments  segment id -> { sizeBytes, liveBytes }
//   segmentChunks [segment id, image offset] -> chunk id: the live chunks of each segment, in order

import assert from "node:assert/strict";
import { ABORT, type Database, open, type RootDatabase } from "lmdb";
import { diskError } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";
import { BLOCK_CHECKSUM_BYTES, blockCount, CHECKSUM_BLOCK_BYTES } from "./checksum.js";
import { CHUNK_HEADER_BYTES, type ChunkLocation } from "./chunk-device.js";
import { type EntryWindow, FANOUT, type NodeStore, type TreeNode } from "./mapping-tree.js";
import type { VolumeRecord } from "./volume-record.js";

/**
 * Version 2 added block checksums to chunk records. A version 1 store (whose records have none)
 * is read as it is and marked version 2 at open; its old chunks keep whole-track verification.
 */
export const FORMAT_VERSION = 2;
const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];

const NODE_HEADER_BYTES = 8;
const NODE_BYTES = NODE_HEADER_BYTES + FANOUT * 8;
/** A chunk record without block checksums; with them, 4 bytes per block follow. */
const CHUNK_RECORD_BYTES = 32;
/** Where a chunk record keeps its reference count (u32) and its checksum (u64), little-endian. */
const CHUNK_REFS_OFFSET = 4;
const CHUNK_HASH_OFFSET = 24;
/** log2 of CHECKSUM_BLOCK_BYTES, as a chunk record states the size of its blocks. */
const CHECKSUM_BLOCK_SHIFT = Math.log2(CHECKSUM_BLOCK_BYTES);

export interface ChunkRecord {
  readonly location: ChunkLocation;
  readonly refs: number;
  readonly hash: bigint;
  /** xxHash32 of each 4 KiB block of the image (checksum.ts); absent in version 1 records. */
  readonly blockSums?: Buffer;
}

export interface SegmentStats {
  readonly sizeBytes: number;
  readonly liveBytes: number;
}

export class Catalog implements NodeStore {
  private readonly env: RootDatabase;
  private readonly meta: Database<unknown, string>;
  private readonly volumes: Database<VolumeRecord, string>;
  private readonly nodes: Database<Buffer, number>;
  private readonly nodeRefCounts: Database<number, number>;
  private readonly orphanSet: Database<boolean, number>;
  private readonly chunks: Database<Buffer, number>;
  private readonly segments: Database<SegmentStats, number>;
  private readonly segmentChunks: Database<number, [number, number]>;
  private nextNodeId: number;
  private nextChunkId: number;
  /** Live-byte changes per segment made by the running change, written when it ends. */
  private liveDeltas = new Map<number, number>();

  constructor(path: string) {
    // Event-turn batching is off: with it, lmdb-js starts each batch with a write whose promise
    // nobody holds, and a failed commit (a full disk) rejects that promise unhandled, which ends
    // the process (kriszyp/lmdb-js#368). Without it, changes still batch into one commit per turn
    // of the event loop (lmdb-js commits at setImmediate).
    this.env = open({ path, maxDbs: 16, eventTurnBatching: false });
    this.meta = this.env.openDB("meta", {});
    this.volumes = this.env.openDB("volumes", {});
    this.nodes = this.env.openDB("nodes", { encoding: "binary" });
    this.nodeRefCounts = this.env.openDB("nodeRefs", {});
    this.orphanSet = this.env.openDB("orphans", {});
    this.chunks = this.env.openDB("chunks", { encoding: "binary" });
    this.segments = this.env.openDB("segments", {});
    this.segmentChunks = this.env.openDB("segmentChunks", {});
    this.checkFormat();
    this.nextNodeId = this.lastKey(this.nodes) + 1;
    this.nextChunkId = this.lastKey(this.chunks) + 1;
  }

  /**
   * Runs `fn` in its own (child) transaction, batched with other changes into one LMDB commit.
   * If `fn` throws, its writes roll back and the promise rejects with the error.
   */
  async change<T>(fn: () => T): Promise<T> {
    let result: T | undefined;
    let failure: { error: unknown } | undefined;
    try {
      await this.env.childTransaction(() => {
        this.liveDeltas = new Map();
        try {
          result = fn();
          this.writeLiveDeltas();
          return undefined;
        } catch (error) {
          failure = { error };
          return ABORT;
        }
      });
    } catch (error) {
      // The batch's commit failed (a full disk): every change in it rolled back.
      throw diskError("commit a change to the catalog", await commitCause(error));
    }
    if (failure !== undefined) throw failure.error;
    return result as T;
  }

  /** Resolves once every committed change is durable on disk. */
  async flushed(): Promise<void> {
    try {
      await this.env.committed;
      await this.env.flushed;
    } catch (error) {
      throw diskError("make the catalog durable", await commitCause(error));
    }
  }

  async close(): Promise<void> {
    await this.env.close();
  }

  // Volumes.

  getVolume(volser: string): VolumeRecord | undefined {
    return this.volumes.get(volser);
  }

  putVolume(record: VolumeRecord): void {
    this.volumes.putSync(record.volser, record);
  }

  removeVolume(volser: string): void {
    this.volumes.removeSync(volser);
  }

  listVolumes(): VolumeRecord[] {
    return [...this.volumes.getRange({})].map(({ value }) => value);
  }

  // Mapping tree nodes (the NodeStore of mapping-tree.ts).

  readNode(id: number): TreeNode {
    const stored = this.nodes.getBinaryFast(id);
    assert.ok(stored !== undefined, `node ${id} exists`);
    assert.equal(stored.length, NODE_BYTES);
    const entries = new Float64Array(FANOUT);
    Buffer.from(entries.buffer).set(stored.subarray(NODE_HEADER_BYTES));
    return { level: stored[0], entries };
  }

  copyEntries(id: number, window: EntryWindow): number {
    const stored = this.nodes.getBinaryFast(id);
    // The message is built only on failure: this runs on every read.
    if (stored === undefined) assert.fail(`node ${id} exists`);
    assert.equal(stored.length, NODE_BYTES);
    const { from, count, into, at } = window;
    assert.ok(from >= 0 && count >= 0 && from + count <= FANOUT, "the entries are in the node");
    const target = new Uint8Array(into.buffer, into.byteOffset + at * 8, count * 8);
    const start = NODE_HEADER_BYTES + from * 8;
    target.set(stored.subarray(start, start + count * 8));
    return stored[0];
  }

  writeNode(id: number, node: TreeNode): void {
    assert.equal(node.entries.length, FANOUT);
    const buffer = Buffer.allocUnsafe(NODE_BYTES);
    buffer.fill(0, 0, NODE_HEADER_BYTES);
    buffer[0] = node.level;
    buffer.set(new Uint8Array(node.entries.buffer, node.entries.byteOffset, FANOUT * 8), 8);
    this.nodes.putSync(id, buffer);
  }

  createNode(node: TreeNode): number {
    const id = this.nextNodeId++;
    this.writeNode(id, node);
    this.nodeRefCounts.putSync(id, 1);
    return id;
  }

  nodeRefs(id: number): number {
    return this.nodeRefCounts.get(id) ?? 0;
  }

  retainNode(id: number): void {
    const refs = this.nodeRefs(id);
    assert.ok(refs >= 1, `node ${id} is live before it is retained`);
    this.nodeRefCounts.putSync(id, refs + 1);
  }

  releaseNode(id: number): void {
    const refs = this.nodeRefs(id);
    assert.ok(refs >= 1, `node ${id} has a reference to release`);
    this.nodeRefCounts.putSync(id, refs - 1);
    if (refs === 1) this.orphanSet.putSync(id, true);
  }

  /** Removes an orphaned node once the collector has released its children. */
  dropNode(id: number): void {
    assert.equal(this.nodeRefs(id), 0);
    this.nodes.removeSync(id);
    this.nodeRefCounts.removeSync(id);
    this.orphanSet.removeSync(id);
  }

  isOrphan(id: number): boolean {
    return this.orphanSet.get(id) === true;
  }

  orphans(limit: number): number[] {
    return [...this.orphanSet.getKeys({ limit })];
  }

  allNodeIds(): number[] {
    return [...this.nodes.getKeys({})];
  }

  // Chunks.

  allocateChunkId(): number {
    return this.nextChunkId++;
  }

  /**
   * Records a newly appended chunk with the one reference of the track that will map it (the
   * mapping tree is then told not to retain it again): one put per new chunk, not three.
   */
  addChunk(
    id: number,
    chunk: { location: ChunkLocation; hash: bigint; blockSums?: Buffer | undefined },
  ): void {
    this.putChunk(id, { ...chunk, refs: 1 });
    this.addLive(chunk.location, 1);
    this.segmentChunks.putSync(segmentKey(chunk.location), id);
  }

  getChunk(id: number): ChunkRecord | undefined {
    const stored = this.chunks.getBinaryFast(id);
    return stored === undefined ? undefined : decodeChunkRecord(stored);
  }

  /** The chunk's checksum without decoding the rest of its record: what GSC compares, per track. */
  chunkHash(id: number): bigint | undefined {
    return this.chunks.getBinaryFast(id)?.readBigUInt64LE(CHUNK_HASH_OFFSET);
  }

  // A shared leaf copied on write retains each of its 512 chunks, and a dropped one releases them:
  // the reference count is changed in the record's bytes, not decoded and encoded again.
  retainChunk(id: number): void {
    const stored = this.chunks.getBinaryFast(id);
    if (stored === undefined) assert.fail(`chunk ${id} exists before it is retained`);
    const record = copyOfStored(stored);
    record.writeUInt32LE(record.readUInt32LE(CHUNK_REFS_OFFSET) + 1, CHUNK_REFS_OFFSET);
    this.chunks.putSync(id, record);
  }

  releaseChunk(id: number): void {
    const stored = this.chunks.getBinaryFast(id);
    const refs = stored?.readUInt32LE(CHUNK_REFS_OFFSET) ?? 0;
    if (stored === undefined || refs < 1) assert.fail(`chunk ${id} has a reference to release`);
    if (refs > 1) {
      const record = copyOfStored(stored);
      record.writeUInt32LE(refs - 1, CHUNK_REFS_OFFSET);
      this.chunks.putSync(id, record);
      return;
    }
    const location = locationOf(stored);
    this.chunks.removeSync(id);
    this.addLive(location, -1);
    this.segmentChunks.removeSync(segmentKey(location));
  }

  /** Points a chunk at its new place after the collector copied it. */
  moveChunk(id: number, location: ChunkLocation): void {
    const chunk = this.getChunk(id);
    assert.ok(chunk !== undefined);
    assert.equal(chunk.location.lengthBytes, location.lengthBytes);
    this.addLive(chunk.location, -1);
    this.segmentChunks.removeSync(segmentKey(chunk.location));
    this.putChunk(id, { ...chunk, location });
    this.addLive(location, 1);
    this.segmentChunks.putSync(segmentKey(location), id);
  }

  *allChunks(): Generator<{ id: number; chunk: ChunkRecord }> {
    for (const { key, value } of this.chunks.getRange({})) {
      yield { id: key, chunk: decodeChunkRecord(value) };
    }
  }

  /**
   * The live chunks at the end of a segment, last first, until their images add up to `maxBytes`
   * (at least one): what the collector moves next, so that the segment can be cut behind them.
   */
  chunksAtSegmentEnd(segment: number, maxBytes: number): number[] {
    const ids: number[] = [];
    let bytes = 0;
    const range = this.segmentChunks.getRange({
      start: [segment + 1, 0],
      end: [segment, 0],
      reverse: true,
    });
    for (const { value: id } of range) {
      if (ids.length > 0 && bytes >= maxBytes) break;
      ids.push(id);
      bytes += this.getChunk(id)?.location.lengthBytes ?? 0;
    }
    return ids;
  }

  /** Where the last live chunk of a segment ends (0: none is live). */
  segmentEnd(segment: number): number {
    for (const { value: id } of this.segmentChunks.getRange({
      start: [segment + 1, 0],
      end: [segment, 0],
      reverse: true,
      limit: 1,
    })) {
      const chunk = this.getChunk(id);
      assert.ok(chunk !== undefined, `chunk ${id} of segment ${segment} exists`);
      return chunk.location.offsetBytes + chunk.location.lengthBytes;
    }
    return 0;
  }

  /** The chunk whose image starts at `location`, by the segment index. */
  chunkAt(location: ChunkLocation): number | undefined {
    return this.segmentChunks.get(segmentKey(location));
  }

  /** How many chunks the segment index holds (the checker compares it with the chunk records). */
  segmentIndexSize(): number {
    return this.segmentChunks.getCount();
  }

  // Segments.

  segmentStats(): Map<number, SegmentStats> {
    return new Map([...this.segments.getRange({})].map(({ key, value }) => [key, value]));
  }

  /**
   * Records that a segment holds chunks up to `endBytes` (a chunk's end): its size grows to that,
   * never shrinks. Not the device's idea of its size, which counts appends still under way and
   * failed ones; the size recorded is what the next open keeps.
   */
  recordSegmentEnd(segment: number, endBytes: number): void {
    const stats = this.segments.get(segment);
    if (stats !== undefined && stats.sizeBytes >= endBytes) return;
    this.segments.putSync(segment, { liveBytes: 0, ...stats, sizeBytes: endBytes });
  }

  /** Records a segment cut back to `endBytes`, past its last live chunk (the collector's cut). */
  cutSegment(segment: number, endBytes: number): void {
    const stats = this.segments.get(segment);
    assert.ok(stats !== undefined, `segment ${segment} is recorded`);
    assert.ok(endBytes <= stats.sizeBytes, `segment ${segment} is cut, not grown`);
    assert.ok(endBytes >= this.segmentEnd(segment), `segment ${segment} keeps its live chunks`);
    this.segments.putSync(segment, { ...stats, sizeBytes: endBytes });
  }

  removeSegment(segment: number): void {
    this.segments.removeSync(segment);
  }

  private addLive(location: ChunkLocation, sign: 1 | -1): void {
    const bytes = sign * (CHUNK_HEADER_BYTES + location.lengthBytes);
    this.liveDeltas.set(location.segment, (this.liveDeltas.get(location.segment) ?? 0) + bytes);
  }

  private writeLiveDeltas(): void {
    for (const [segment, delta] of this.liveDeltas) {
      const stats = this.segments.get(segment);
      assert.ok(stats !== undefined, `segment ${segment} is recorded`);
      const liveBytes = stats.liveBytes + delta;
      assert.ok(liveBytes >= 0 && liveBytes <= stats.sizeBytes, `segment ${segment} live bytes`);
      this.segments.putSync(segment, { ...stats, liveBytes });
    }
    this.liveDeltas = new Map();
  }

  private putChunk(id: number, chunk: ChunkRecord): void {
    this.chunks.putSync(id, encodeChunkRecord(chunk));
  }

  private lastKey(db: Database<unknown, number>): number {
    for (const key of db.getKeys({ reverse: true, limit: 1 })) return key;
    return 0;
  }

  /**
   * Where the store keeps its chunks ("local", or "s3://bucket/prefix"): recorded at the first
   * open, and an open that asks for another place is refused, so that a store is never opened
   * over the wrong chunks. A store from before the record keeps its chunks locally.
   */
  /** Every journal record up to this sequence number is merged into chunks (0: none yet). */
  journalMergedThrough(): number {
    return (this.meta.get("journalMerged") as number | undefined) ?? 0;
  }

  /** Records, in the running change, that the journal is merged up to `seq`. */
  setJournalMergedThrough(seq: number): void {
    if (seq > this.journalMergedThrough()) this.meta.putSync("journalMerged", seq);
  }

  /** A new volume incarnation, taken in the running change. */
  nextIncarnation(): number {
    const next = ((this.meta.get("incarnation") as number | undefined) ?? 0) + 1;
    this.meta.putSync("incarnation", next);
    return next;
  }

  claimChunkHome(home: string): void {
    const recorded = this.meta.get("chunks") as string | undefined;
    if (recorded === undefined) {
      const fresh = this.lastKey(this.chunks) === 0 && this.listVolumes().length === 0;
      if (!fresh && home !== "local") {
        throw chunkHomeMismatch("local", home);
      }
      this.env.transactionSync(() => this.meta.putSync("chunks", home));
      return;
    }
    if (recorded !== home) throw chunkHomeMismatch(recorded, home);
  }

  private checkFormat(): void {
    const format = this.meta.get("format") as { version: number } | undefined;
    if (format === undefined) {
      this.env.transactionSync(() => this.meta.putSync("format", { version: FORMAT_VERSION }));
      return;
    }
    if (!READABLE_FORMAT_VERSIONS.includes(format.version)) {
      throw new GsnapError(
        "STORE_FORMAT",
        `Cannot open the store: its format version is ${format.version}, this gsnap reads ` +
          `${READABLE_FORMAT_VERSIONS.join(" and ")}`,
      );
    }
    // Records written from now on may carry block checksums, which a gsnap that reads only
    // version 1 would take for damage: mark the store so that such a gsnap refuses it instead.
    if (format.version !== FORMAT_VERSION) {
      this.env.transactionSync(() => this.meta.putSync("format", { version: FORMAT_VERSION }));
    }
  }

  /** The format version the store is marked with. */
  formatVersion(): number {
    return (this.meta.get("format") as { version: number }).version;
  }
}

/**
 * Why lmdb-js failed a commit. Its error only says "Commit failed" and carries the cause as a
 * second promise, `commitError`, which it rejects in the same callback; left alone, that rejection
 * is unhandled and ends the process. One turn of the event loop is the longest this waits.
 */
async function commitCause(error: unknown): Promise<unknown> {
  const pending = (error as { commitError?: unknown } | undefined)?.commitError;
  if (!(pending instanceof Promise)) return error;
  return await Promise.race([
    pending.then(
      () => error,
      (cause: unknown) => cause,
    ),
    new Promise((resolve) => setImmediate(() => resolve(error))),
  ]);
}

function chunkHomeMismatch(recorded: string, asked: string): GsnapError {
  const where = (home: string) => (home === "local" ? "in local segment files" : `in ${home}`);
  return new GsnapError(
    "CHUNKS_ELSEWHERE",
    `Cannot open the store with its chunks ${where(asked)}: it keeps them ${where(recorded)} ` +
      `(start it with --chunks ${recorded})`,
  );
}

function segmentKey(location: ChunkLocation): [number, number] {
  return [location.segment, location.offsetBytes];
}

//   offset size field
//   0      4    segment
//   4      4    reference count
//   8      6    offset of the image in the segment
//   14     1    block checksum size: log2 of the bytes each covers (12: 4 KiB); 0: none
//   15     1    reserved
//   16     4    image length
//   20     4    reserved
//   24     8    xxHash64 of the image
//   32     4n   xxHash32 of each block of the image, n = ceil(image length / block size)
function encodeChunkRecord(chunk: ChunkRecord): Buffer {
  const sums = chunk.blockSums;
  if (sums !== undefined) {
    const expected = blockCount(chunk.location.lengthBytes) * BLOCK_CHECKSUM_BYTES;
    assert.equal(sums.length, expected, "a chunk has one block checksum per block");
  }
  const buffer = Buffer.alloc(CHUNK_RECORD_BYTES + (sums?.length ?? 0));
  buffer.writeUInt32LE(chunk.location.segment, 0);
  buffer.writeUInt32LE(chunk.refs, CHUNK_REFS_OFFSET);
  buffer.writeUIntLE(chunk.location.offsetBytes, 8, 6);
  buffer.writeUInt32LE(chunk.location.lengthBytes, 16);
  buffer.writeBigUInt64LE(chunk.hash, CHUNK_HASH_OFFSET);
  if (sums !== undefined) {
    buffer[14] = CHECKSUM_BLOCK_SHIFT;
    sums.copy(buffer, CHUNK_RECORD_BYTES);
  }
  return buffer;
}

/**
 * A copy of a value lmdb-js read into its reused buffer (whose `length` it sets to the value's,
 * which subarray() honours), to be changed and put back.
 */
function copyOfStored(stored: Buffer): Buffer {
  return Buffer.from(stored.subarray(0));
}

/** Where a chunk record says its image is, without decoding the rest. */
function locationOf(buffer: Buffer): ChunkLocation {
  return {
    segment: buffer.readUInt32LE(0),
    offsetBytes: buffer.readUIntLE(8, 6),
    lengthBytes: buffer.readUInt32LE(16),
  };
}

/** Decodes a record; the block checksums are copied out of `buffer`, which LMDB reuses. */
function decodeChunkRecord(buffer: Buffer): ChunkRecord {
  const shift = buffer[14];
  const location = locationOf(buffer);
  const { lengthBytes } = location;
  const refs = buffer.readUInt32LE(CHUNK_REFS_OFFSET);
  const hash = buffer.readBigUInt64LE(CHUNK_HASH_OFFSET);
  if (shift === 0) {
    assert.equal(buffer.length, CHUNK_RECORD_BYTES);
    return { location, refs, hash };
  }
  assert.equal(shift, CHECKSUM_BLOCK_SHIFT, "block checksums cover 4 KiB blocks");
  const sumsBytes = blockCount(lengthBytes) * BLOCK_CHECKSUM_BYTES;
  assert.equal(buffer.length, CHUNK_RECORD_BYTES + sumsBytes);
  const blockSums = Buffer.from(buffer.subarray(CHUNK_RECORD_BYTES));
  return { location, refs, hash, blockSums };
}
