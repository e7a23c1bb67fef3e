import { describe, expect, it } from "vitest";
import {
  BufferPool,
  HEADER_ROOM_BYTES,
  MAX_POOLED_BYTES,
  SPARE_BUFFERS_PER_SIZE,
} from "./buffer-pool.js";

describe("read buffer pool", () => {
  it("hands back a buffer of the same size once it was given back", () => {
    const pool = new BufferPool();
    const first = pool.take(4096);
    pool.give(first);
    expect(pool.take(4096) === first).toBe(true);
    expect(pool.take(4096) === first).toBe(false);
  });

  it("keeps at most a bounded number of spares and none over the size limit", () => {
    const pool = new BufferPool();
    const buffers = Array.from({ length: SPARE_BUFFERS_PER_SIZE + 5 }, () => pool.take(1024));
    for (const buffer of buffers) pool.give(buffer);
    const again = Array.from({ length: SPARE_BUFFERS_PER_SIZE + 5 }, () => pool.take(1024));
    const reused = again.filter((buffer) => buffers.includes(buffer)).length;
    expect(reused).toBe(SPARE_BUFFERS_PER_SIZE);
    // nbdcopy's 64 reads of 256 KiB, each with room for its reply header, are all kept.
    const reads = Array.from({ length: 64 }, () => pool.take(256 * 1024 + HEADER_ROOM_BYTES));
    for (const buffer of reads) pool.give(buffer);
    const readsAgain = Array.from({ length: 64 }, () => pool.take(256 * 1024 + HEADER_ROOM_BYTES));
    expect(readsAgain.filter((buffer) => reads.includes(buffer)).length).toBe(64);
    const big = pool.take(MAX_POOLED_BYTES + 1);
    pool.give(big);
    expect(pool.take(MAX_POOLED_BYTES + 1) === big).toBe(false);
  });
});
