import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("spaces sends so that bytes go at the rate, after a short burst", () => {
    const limiter = new RateLimiter(1_000_000);
    // 10 sends of 100 kB at once: 1 MB at 1 MB/s ends 1 s later; the burst lets 100 ms go early.
    const waits = Array.from({ length: 10 }, () => limiter.take(100_000, 0));
    expect(waits[0]).toBe(0);
    expect(waits[1]).toBe(0);
    expect(waits[9]).toBeCloseTo(800, 5);
  });

  it("does not bank idle time beyond the burst", () => {
    const limiter = new RateLimiter(1_000_000);
    limiter.take(100_000, 0);
    // Ten idle seconds later, only one burst goes at once.
    expect(limiter.take(100_000, 10_000)).toBe(0);
    expect(limiter.take(100_000, 10_000)).toBe(0);
    expect(limiter.take(100_000, 10_000)).toBeCloseTo(100, 5);
  });
});
