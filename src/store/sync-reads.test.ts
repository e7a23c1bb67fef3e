import { describe, expect, it } from "vitest";
import {
  POOLED_READS_AFTER_SLOW,
  RECENT_READS,
  SLOW_OF_RECENT,
  SLOW_READ_BASE_NS,
  SYNC_READ_MAX_BYTES,
  SyncReads,
} from "./sync-reads.js";

const FAST_NS = 5_000;
const SLOW_NS = 10 * SLOW_READ_BASE_NS;

describe("sync reads", () => {
  it("run reads up to the size limit on the main thread, larger ones on the pool", () => {
    const reads = new SyncReads();
    expect(reads.allows(4096)).toBe(true);
    expect(reads.allows(SYNC_READ_MAX_BYTES)).toBe(true);
    expect(reads.allows(SYNC_READ_MAX_BYTES + 1)).toBe(false);
    expect(new SyncReads(0).allows(1)).toBe(false);
  });

  it("stay on the main thread through bursts of slow reads (a preempted thread)", () => {
    const reads = new SyncReads();
    for (let burst = 0; burst < 10; burst += 1) {
      for (let i = 0; i < SLOW_OF_RECENT - 1; i += 1) reads.record(4096, SLOW_NS);
      for (let i = 0; i < RECENT_READS; i += 1) reads.record(4096, FAST_NS);
      expect(reads.allows(4096)).toBe(true);
    }
    expect(reads.slowReads).toBe(10 * (SLOW_OF_RECENT - 1));
  });

  it("send reads to the pool when most recent reads were slow, then try the main thread again", () => {
    const reads = new SyncReads();
    for (let i = 0; i < RECENT_READS - SLOW_OF_RECENT; i += 1) reads.record(4096, FAST_NS);
    for (let i = 0; i < SLOW_OF_RECENT; i += 1) reads.record(4096, SLOW_NS);
    for (let i = 0; i < POOLED_READS_AFTER_SLOW; i += 1) expect(reads.allows(4096)).toBe(false);
    expect(reads.allows(4096)).toBe(true);
    // The probe is slow too: straight back to the pool.
    reads.record(4096, SLOW_NS);
    expect(reads.allows(4096)).toBe(false);
    for (let i = 0; i < POOLED_READS_AFTER_SLOW; i += 1) reads.allows(4096);
    // Fast probes bring the main thread back for good.
    reads.record(4096, FAST_NS);
    expect(reads.allows(4096)).toBe(true);
    reads.record(4096, FAST_NS);
    expect(reads.allows(4096)).toBe(true);
  });

  it("judge a read slow by its size: a large copy may take longer than a small one", () => {
    const reads = new SyncReads();
    const largeButCached = SLOW_READ_BASE_NS + 100_000;
    for (let i = 0; i < RECENT_READS; i += 1) reads.record(256 * 1024, largeButCached);
    expect(reads.slowReads).toBe(0);
    for (let i = 0; i < RECENT_READS; i += 1) reads.record(4096, largeButCached);
    expect(reads.slowReads).toBe(RECENT_READS);
    expect(reads.allows(4096)).toBe(false);
  });
});
