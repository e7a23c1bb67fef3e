// When a small read is done on the main thread rather than on the thread pool. A read the page
// cache holds is a memory copy: 4 KiB takes a few microseconds with pread(), while a trip through
// libuv's thread pool (queue, wake a worker, wake the loop back) cost about 80 µs of CPU per read
// on the two-core VMs we measure on, more than the read itself. But a read the cache does not hold
// waits for the disk, and on the main thread that wait stalls every connection. So the device reads
// small requests synchronously, times each, and once most of the recent ones were slower than a
// copy could be (they missed the cache) it sends reads to the thread pool for a while before
// trying again. A few slow reads are not enough: on a busy machine the main thread is preempted
// now and then, in bursts, which makes cached reads look slow (measured: 19 of 3,586 256 KiB reads
// of a sequential copy with nbdcopy on the same two cores, four of them in a row twice).
// Pure logic: the device measures, this decides.

import assert from "node:assert/strict";

/**
 * Reads of up to this many bytes may run on the main thread: a 256 KiB copy out of the page cache
 * takes ~30-60 µs here, well under the thread pool's cost; nbdcopy reads 256 KiB at a time.
 */
export const SYNC_READ_MAX_BYTES = 256 * 1024;

/**
 * A synchronous read slower than this plus SLOW_READ_NS_PER_KIB per KiB came from the disk, not
 * the page cache: a copy runs at over 1 GB/s (1 µs per KiB) even on a loaded machine, and 200 µs
 * of slack covers a preempted thread; an SSD read takes 100 µs and more.
 */
export const SLOW_READ_BASE_NS = 200_000;
export const SLOW_READ_NS_PER_KIB = 1_000;

/** The synchronous reads the decision looks back on: a window of 16 (bits of a number). */
export const RECENT_READS = 16;

/**
 * Slow reads among the recent ones that send reads to the thread pool: a cold working set makes
 * nearly every read slow, a preempted thread a few now and then.
 */
export const SLOW_OF_RECENT = 12;

/**
 * Then this many reads go to the thread pool before one is tried on the main thread again: a
 * cold working set gets the pool's parallel disk reads, and a warm one is back on the fast path
 * within a few milliseconds of I/O. The window is kept, so a slow probe sends the next ones to the
 * pool at once, and fast ones bring the main thread back.
 */
export const POOLED_READS_AFTER_SLOW = 256;

export class SyncReads {
  private readonly maxBytes: number;
  private pooledLeft = 0;
  /** One bit per recent synchronous read, the newest lowest: 1 for a slow one. */
  private recent = 0;
  /** Counts for tests and metrics. */
  syncReads = 0;
  slowReads = 0;

  /** `maxBytes`: the largest read run on the main thread (0: none, every read on the pool). */
  constructor(maxBytes: number = SYNC_READ_MAX_BYTES) {
    assert.ok(maxBytes >= 0, "a size");
    this.maxBytes = maxBytes;
  }

  /** Whether a read of `bytes` should run on the main thread now. */
  allows(bytes: number): boolean {
    assert.ok(bytes >= 0, "a read has a size");
    if (bytes > this.maxBytes) return false;
    if (this.pooledLeft > 0) {
      this.pooledLeft -= 1;
      return false;
    }
    return true;
  }

  /** Records how long a synchronous read of `bytes` took. */
  record(bytes: number, elapsedNs: number): void {
    assert.ok(elapsedNs >= 0, "a read takes no negative time");
    this.syncReads += 1;
    const slow = elapsedNs > SLOW_READ_BASE_NS + (bytes / 1024) * SLOW_READ_NS_PER_KIB;
    this.recent = ((this.recent << 1) | (slow ? 1 : 0)) & ((1 << RECENT_READS) - 1);
    if (!slow) return;
    this.slowReads += 1;
    if (bitCount(this.recent) >= SLOW_OF_RECENT) this.pooledLeft = POOLED_READS_AFTER_SLOW;
  }
}

function bitCount(bits: number): number {
  let count = 0;
  for (let rest = bits; rest !== 0; rest &= rest - 1) count += 1;
  return count;
}
