// When a small read is done on the main thread rather than on the thread pool. A read the page
// cache holds is a memory copy: 4 KiB takes a few microseconds with pread(), while a trip through
// libuv's thread pool (queue, wake a worker, wake the loop back) cost about 80 µs of CPU per read
// on the two-core VMs we measure on, more than the read itself. But a read the cache does not hold
// waits for the disk, and on the main thread that wait stalls every connection. So the device reads
// small requests synchronously, times each, and once several in a row were slower than a copy
// could be (they missed the cache) it sends reads to the thread pool for a while before trying
// again. One slow read is not enough: on a busy machine the main thread is also preempted now and
// then, which makes a cached read look slow.
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

/**
 * Slow synchronous reads in a row that send reads to the thread pool: a cold working set makes
 * nearly every read slow, a preempted thread one or two now and then.
 */
export const SLOW_READS_IN_A_ROW = 4;

/**
 * Then this many reads go to the thread pool before one is tried on the main thread again: a
 * cold working set gets the pool's parallel disk reads, and a warm one is back on the fast path
 * within a few milliseconds of I/O. A slow probe sends the next ones to the pool at once.
 */
export const POOLED_READS_AFTER_SLOW = 256;

export class SyncReads {
  private readonly maxBytes: number;
  private pooledLeft = 0;
  private slowInARow = 0;
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
    if (elapsedNs <= SLOW_READ_BASE_NS + (bytes / 1024) * SLOW_READ_NS_PER_KIB) {
      this.slowInARow = 0;
      return;
    }
    this.slowReads += 1;
    this.slowInARow += 1;
    if (this.slowInARow >= SLOW_READS_IN_A_ROW) this.pooledLeft = POOLED_READS_AFTER_SLOW;
  }
}
