import { describe, expect, it } from "vitest";
import { formatDuration, formatProgressLine, formatRate } from "./progress-line.js";

const COPY = { label: "VOL001", unit: "tracks", rateBytesPerSecond: 0, etaSeconds: null };

describe("formatProgressLine", () => {
  it("draws the bar, the percent, the counts, the rate and the ETA", () => {
    const line = formatProgressLine({
      ...COPY,
      done: 26_040,
      total: 50_085,
      rateBytesPerSecond: 432e6,
      etaSeconds: 12,
    });
    expect(line).toBe(
      "VOL001 [##########..........]  52%  26,040/50,085 tracks  432 MB/s  ETA 12 s",
    );
  });

  it("leaves out the rate when idle and the ETA when unknown", () => {
    expect(formatProgressLine({ ...COPY, done: 0, total: 150 })).toBe(
      "VOL001 [....................]  0%  0/150 tracks",
    );
  });

  it("shows 100% only when all is done, and a full bar for nothing to do", () => {
    expect(formatProgressLine({ ...COPY, done: 9_999, total: 10_000 })).toMatch(/ 99% /);
    expect(formatProgressLine({ ...COPY, done: 1, total: 10_000 })).toMatch(/ 1% /);
    expect(formatProgressLine({ ...COPY, done: 0, total: 0 })).toMatch(/\[#{20}\] {2}100% /);
  });

  it("refuses more done than total as a programmer error", () => {
    expect(() => formatProgressLine({ ...COPY, done: 2, total: 1 })).toThrow(/at most/);
  });
});

describe("formatRate and formatDuration", () => {
  it.each([
    [0, "0 B/s"],
    [900, "900 B/s"],
    [9.5e6, "9.5 MB/s"],
    [30 * 1024 ** 2, "31 MB/s"],
    [1.25e9, "1.3 GB/s"],
  ])("writes %d bytes per second as %s", (rate, text) => {
    expect(formatRate(rate)).toBe(text);
  });

  it.each([
    [0, "0 s"],
    [11.2, "12 s"],
    [245, "4 min 05 s"],
    [7_800, "2 h 10 min"],
  ])("writes %d seconds as %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
