// A cap on bytes per second (GSC --bandwidth): each send books its bytes on a schedule that
// advances at the rate, and waits until its booked time. Pure: the caller passes the time.

import assert from "node:assert/strict";

/** A burst of this long a time at the full rate may go at once after an idle spell. */
const BURST_MS = 100;

export class RateLimiter {
  /** When the bytes booked so far will have gone at the rate. */
  private bookedUntilMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly bytesPerSecond: number) {
    // GSC checks the user's cap; zero or less here would book every send at infinity.
    assert.ok(Number.isFinite(bytesPerSecond), "a rate cap is finite");
    assert.ok(bytesPerSecond > 0, "a rate cap is above zero");
  }

  /** Books `bytes` and answers how long to wait before sending them (0: at once). */
  take(bytes: number, nowMs: number): number {
    const start = Math.max(this.bookedUntilMs, nowMs - BURST_MS);
    this.bookedUntilMs = start + (bytes / this.bytesPerSecond) * 1000;
    return Math.max(0, start - nowMs);
  }
}
