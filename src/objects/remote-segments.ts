// The segments that live in the object store: their sizes, reads of their chunks with ranged GETs
// through the block cache, and their deletion once no read of them is under way.

import { GsnapError } from "../errors/gsnap-error.js";
import type { ChunkLocation } from "../store/chunk-device.js";
import { BlockCache, blockKey } from "./block-cache.js";
import { blocksOf, bySegment, spansOf } from "./block-spans.js";
import type { ObjectStore } from "./object-store.js";
import { segmentKey } from "./segment-keys.js";

export interface RemoteReadOptions {
  /** The unit of caching and of ranged GETs. */
  readonly blockBytes: number;
  readonly cacheBytes: number;
  /** Blocks read past a miss that follows the previous one (a sequential reader). */
  readonly readaheadBlocks: number;
  /** The most blocks one GET fetches. */
  readonly maxSpanBlocks: number;
}

type Read = { location: ChunkLocation; target: Buffer };

export class RemoteSegments {
  readonly cache: BlockCache;
  private readonly store: ObjectStore;
  private readonly options: RemoteReadOptions;
  private readonly sizes = new Map<number, number>();
  /** Blocks being fetched, by cache key, so that two reads of one block make one GET. */
  private readonly fetching = new Map<number, Promise<Buffer>>();
  /** Reads under way per segment: a segment is deleted from the object store only after them. */
  private readonly reading = new Map<number, number>();
  private readonly doomed = new Set<number>();
  /** Where the last GET of each segment ended: a miss there is a sequential reader's. */
  private readonly lastEnd = new Map<number, number>();
  private readonly onDeleteFailed: (segment: number, error: unknown) => void;

  constructor(
    store: ObjectStore,
    options: RemoteReadOptions,
    onDeleteFailed: (segment: number, error: unknown) => void,
  ) {
    this.store = store;
    this.options = options;
    this.cache = new BlockCache(options.cacheBytes);
    this.onDeleteFailed = onDeleteFailed;
  }

  add(segment: number, sizeBytes: number): void {
    this.sizes.set(segment, sizeBytes);
  }

  has(segment: number): boolean {
    return this.sizes.has(segment);
  }

  sizeOf(segment: number): number | undefined {
    return this.sizes.get(segment);
  }

  segmentSizes(): Map<number, number> {
    return new Map(this.sizes);
  }

  isBusy(segment: number): boolean {
    return (this.reading.get(segment) ?? 0) > 0;
  }

  /** Copies a chunk out of the cache; false (nothing copied) when a block of it is not there. */
  readCached(location: ChunkLocation, target: Buffer, targetOffset: number): boolean {
    const blocks = blocksOf([location], this.options.blockBytes);
    const found = new Map<number, Buffer>();
    for (const block of blocks) {
      const data = this.cache.get(location.segment, block);
      if (data === undefined) return false;
      found.set(block, data);
    }
    this.copyOut(location, found, target, targetOffset);
    return true;
  }

  /** Reads chunks, fetching the blocks the cache lacks. */
  async readMany(reads: readonly Read[]): Promise<void> {
    await this.withSegments(reads, async (segment, group) => {
      const found = await this.fetchBlocks(
        segment,
        blocksOf(
          group.map((read) => read.location),
          this.options.blockBytes,
        ),
      );
      for (const read of group) this.copyOut(read.location, found, read.target, 0);
    });
  }

  /** Brings the blocks of chunks into the cache. */
  async fetch(locations: readonly ChunkLocation[]): Promise<void> {
    const items = locations.map((location) => ({ location }));
    await this.withSegments(items, async (segment, group) => {
      await this.fetchBlocks(
        segment,
        blocksOf(
          group.map((item) => item.location),
          this.options.blockBytes,
        ),
      );
    });
  }

  /** Forgets a segment and deletes its object, after the reads of it under way. */
  remove(segment: number): void {
    const sizeBytes = this.sizes.get(segment) ?? 0;
    this.sizes.delete(segment);
    this.lastEnd.delete(segment);
    this.cache.dropSegment(segment, Math.ceil(sizeBytes / this.options.blockBytes));
    if (this.isBusy(segment)) this.doomed.add(segment);
    else this.deleteObject(segment);
  }

  /** Deletes the object of a segment that the catalog does not know (left by a crash). */
  deleteObject(segment: number): void {
    this.store
      .delete(segmentKey(segment))
      .catch((error: unknown) => this.onDeleteFailed(segment, error));
  }

  /** Runs `fn` for each segment's share of the items, counting it as a read under way. */
  private async withSegments<T extends { location: ChunkLocation }>(
    items: readonly T[],
    fn: (segment: number, group: T[]) => Promise<void>,
  ): Promise<void> {
    const groups = bySegment(items);
    // Counted before the first await: a removal that comes after this call waits for it.
    for (const segment of groups.keys()) {
      this.reading.set(segment, (this.reading.get(segment) ?? 0) + 1);
    }
    try {
      await Promise.all([...groups].map(([segment, group]) => fn(segment, group)));
    } finally {
      for (const segment of groups.keys()) this.readDone(segment);
    }
  }

  private readDone(segment: number): void {
    const left = (this.reading.get(segment) ?? 1) - 1;
    if (left > 0) {
      this.reading.set(segment, left);
      return;
    }
    this.reading.delete(segment);
    if (this.doomed.delete(segment)) this.deleteObject(segment);
  }

  /** The given blocks of a segment: from the cache, from GETs under way, or with new GETs. */
  private async fetchBlocks(
    segment: number,
    blocks: readonly number[],
  ): Promise<Map<number, Buffer>> {
    const sizeBytes = this.sizes.get(segment);
    if (sizeBytes === undefined) {
      throw new GsnapError(
        "CHUNK_CORRUPT",
        `Cannot read segment ${segment}: it is neither in staging nor in ${this.store.description}`,
      );
    }
    const { blockBytes } = this.options;
    const found = new Map<number, Buffer>();
    const waits: Promise<void>[] = [];
    const missing: number[] = [];
    for (const block of blocks) {
      const cached = this.cache.get(segment, block);
      const pending = this.fetching.get(blockKey(segment, block));
      if (cached !== undefined) found.set(block, cached);
      else if (pending !== undefined)
        waits.push(pending.then((data) => void found.set(block, data)));
      else missing.push(block);
    }
    const sequential = missing.length > 0 && this.lastEnd.get(segment) === missing[0];
    const spans = spansOf(missing, {
      maxBlocks: this.options.maxSpanBlocks,
      readahead: sequential ? this.options.readaheadBlocks : 0,
      blockCount: Math.ceil(sizeBytes / blockBytes),
      skip: (block) =>
        this.cache.has(segment, block) || this.fetching.has(blockKey(segment, block)),
    });
    for (const span of spans) {
      const got = this.getSpan(segment, sizeBytes, span);
      waits.push(
        got.then((data) => {
          for (const [i, block] of data.entries()) found.set(span.first + i, block);
        }),
      );
      this.lastEnd.set(segment, span.first + span.count);
    }
    await Promise.all(waits);
    return found;
  }

  /** One ranged GET of adjacent blocks; each block goes to the cache. */
  private getSpan(
    segment: number,
    sizeBytes: number,
    span: { first: number; count: number },
  ): Promise<Buffer[]> {
    const { blockBytes } = this.options;
    const start = span.first * blockBytes;
    const end = Math.min((span.first + span.count) * blockBytes, sizeBytes);
    const request = this.store
      .get(segmentKey(segment), { offsetBytes: start, lengthBytes: end - start })
      .then((body) => {
        if (body === undefined) {
          throw new GsnapError(
            "CHUNK_CORRUPT",
            `Cannot read segment ${segment}: its object is missing from ${this.store.description}`,
          );
        }
        const blocks: Buffer[] = [];
        for (let i = 0; i < span.count; i += 1) {
          const block = body.subarray(i * blockBytes, Math.min((i + 1) * blockBytes, body.length));
          blocks.push(block);
          // A segment removed while its GET was under way does not come back into the cache.
          if (this.sizes.has(segment)) this.cache.set(segment, span.first + i, block);
        }
        return blocks;
      });
    for (let i = 0; i < span.count; i += 1) {
      const key = blockKey(segment, span.first + i);
      const block = request.then((blocks) => blocks[i]);
      // Awaited only by reads that find it under way; the others see the failure on `request`.
      block.catch(() => {});
      this.fetching.set(key, block);
    }
    const forget = () => {
      for (let i = 0; i < span.count; i += 1)
        this.fetching.delete(blockKey(segment, span.first + i));
    };
    request.then(forget, forget);
    return request;
  }

  /** Copies a chunk's bytes out of its blocks. */
  private copyOut(
    location: ChunkLocation,
    blocks: Map<number, Buffer>,
    target: Buffer,
    targetOffset: number,
  ): void {
    const { blockBytes } = this.options;
    let done = 0;
    while (done < location.lengthBytes) {
      const offset = location.offsetBytes + done;
      const block = Math.floor(offset / blockBytes);
      const data = blocks.get(block);
      const within = offset - block * blockBytes;
      if (data === undefined || within >= data.length) {
        throw new GsnapError(
          "CHUNK_CORRUPT",
          `Cannot read chunk at segment ${location.segment} offset ${location.offsetBytes}: ` +
            "the segment object ends before the chunk does",
        );
      }
      const copied = data.copy(
        target,
        targetOffset + done,
        within,
        Math.min(data.length, within + location.lengthBytes - done),
      );
      done += copied;
    }
  }
}
