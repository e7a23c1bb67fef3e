import { describe, expect, it } from "vitest";
import type { JournalEntry } from "./journal-index.js";
import { applyEntries, piecesOf, routeRange } from "./journal-overlay.js";

const TRACK = 100;

describe("journal overlays", () => {
  it("route pieces of tracks and journaled whole tracks to the journal, other whole tracks to a change", () => {
    // Bytes 50-449: a piece of track 0, tracks 1-3 whole (2 has entries), a piece of track 4.
    const route = routeRange({ offsetBytes: 50, lengthBytes: 400 }, TRACK, (track) => track === 2);
    expect(route.journal).toEqual([
      { offsetBytes: 50, lengthBytes: 50 },
      { offsetBytes: 200, lengthBytes: 100 },
      { offsetBytes: 400, lengthBytes: 50 },
    ]);
    expect(route.direct).toEqual([
      { offsetBytes: 100, lengthBytes: 100 },
      { offsetBytes: 300, lengthBytes: 100 },
    ]);
    expect(routeRange({ offsetBytes: 0, lengthBytes: 300 }, TRACK, () => false)).toEqual({
      journal: [],
      direct: [{ offsetBytes: 0, lengthBytes: 300 }],
    });
  });

  it("cut a write into one piece per track and lay pieces over bytes in order, clipped to them", () => {
    const volume = { volser: "VOL001", incarnation: 3, trackSizeBytes: TRACK };
    const data = Buffer.alloc(150, 7);
    const pieces = piecesOf(volume, { offsetBytes: 80, lengthBytes: 150 }, data);
    expect(pieces.map((p) => [p.track, p.offsetBytes, p.lengthBytes])).toEqual([
      [0, 80, 20],
      [1, 0, 100],
      [2, 0, 30],
    ]);
    const entry = (seq: number, track: number, offsetBytes: number, lengthBytes: number) =>
      ({ seq, track, offsetBytes, lengthBytes }) as JournalEntry;
    const target = Buffer.alloc(50, 1); // bytes 120-169 of the volume
    applyEntries(target, 120, TRACK, [
      { entry: entry(1, 1, 0, 100), data: Buffer.alloc(100, 2) },
      { entry: entry(2, 1, 30, 10), data: undefined },
      { entry: entry(3, 5, 0, 10), data: Buffer.alloc(10, 9) },
    ]);
    const expected = Buffer.alloc(50, 2);
    expected.fill(0, 10, 20);
    expect(target.equals(expected)).toBe(true);
  });
});
