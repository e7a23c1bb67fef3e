// The read cache of a remote chunk device: fixed-size blocks of segment objects, kept in memory up
// to a byte budget, the least recently used going first. Pure logic: it fetches nothing.

export interface BlockCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  evictions: number;
}

/** Block numbers within a segment stay below this: the key is segment × this + block. */
const BLOCKS_PER_SEGMENT_KEY = 2 ** 20;

export class BlockCache {
  readonly capacityBytes: number;
  readonly stats: BlockCacheStats = { hits: 0, misses: 0, bytes: 0, evictions: 0 };
  /** Insertion order is recency: a hit moves its block to the end. */
  private readonly blocks = new Map<number, Buffer>();

  constructor(capacityBytes: number) {
    this.capacityBytes = capacityBytes;
  }

  /** A block, counted as a hit or a miss, and made the most recent. */
  get(segment: number, block: number): Buffer | undefined {
    const key = blockKey(segment, block);
    const found = this.blocks.get(key);
    if (found === undefined) {
      this.stats.misses += 1;
      return undefined;
    }
    this.stats.hits += 1;
    this.blocks.delete(key);
    this.blocks.set(key, found);
    return found;
  }

  /** True when the block is cached; neither a hit nor a miss, and its recency unchanged. */
  has(segment: number, block: number): boolean {
    return this.blocks.has(blockKey(segment, block));
  }

  set(segment: number, block: number, data: Buffer): void {
    if (data.length > this.capacityBytes) return;
    const key = blockKey(segment, block);
    this.remove(key);
    this.blocks.set(key, data);
    this.stats.bytes += data.length;
    for (const [oldest, buffer] of this.blocks) {
      if (this.stats.bytes <= this.capacityBytes) break;
      this.blocks.delete(oldest);
      this.stats.bytes -= buffer.length;
      this.stats.evictions += 1;
    }
  }

  /** Forgets every block of a segment (deleted: its number may come back for another object). */
  dropSegment(segment: number, blockCount: number): void {
    for (let block = 0; block < blockCount; block += 1) this.remove(blockKey(segment, block));
  }

  private remove(key: number): void {
    const old = this.blocks.get(key);
    if (old === undefined) return;
    this.blocks.delete(key);
    this.stats.bytes -= old.length;
  }
}

/** One number per block of any segment: the cache's key, and that of GETs under way. */
export function blockKey(segment: number, block: number): number {
  return segment * BLOCKS_PER_SEGMENT_KEY + block;
}
