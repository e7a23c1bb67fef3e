import { describe, expect, it } from "vitest";
import { RateMeter } from "./rate-meter.js";

describe("RateMeter", () => {
  it("is 0 before anything moved and after the window went quiet", () => {
    const meter = new RateMeter();
    expect(meter.rate(1_000)).toBe(0);
    meter.add(1_000, 1_000);
    expect(meter.rate(7_000)).toBe(0);
    expect(meter.bytes).toBe(1_000);
  });

  it("measures a steady flow as bytes over the seconds it took", () => {
    const meter = new RateMeter();
    for (let ms = 0; ms <= 10_000; ms += 250) meter.add(250_000, ms);
    // 1 MB per second, measured over the last 5 s.
    expect(meter.rate(10_000)).toBeCloseTo(1_000_000, -4);
  });

  it("follows a change of speed within the window", () => {
    const meter = new RateMeter();
    for (let ms = 0; ms <= 10_000; ms += 500) meter.add(1_000_000, ms);
    for (let ms = 10_500; ms <= 20_000; ms += 500) meter.add(100_000, ms);
    expect(meter.rate(20_000)).toBeCloseTo(200_000, -4);
  });
});
