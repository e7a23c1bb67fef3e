import { describe, expect, it } from "vitest";
import { allocationExtents, tracksOf } from "./block-status.js";
import { AllocationState } from "./protocol.js";

const TRACK = 57_344;
const HOLE = AllocationState.HOLE | AllocationState.ZERO;

describe("block status", () => {
  it("asks the store for every track the window touches", () => {
    expect(tracksOf({ offsetBytes: 0, lengthBytes: 1 }, TRACK)).toEqual({
      firstTrack: 0,
      count: 1,
    });
    expect(tracksOf({ offsetBytes: TRACK - 1, lengthBytes: 2 }, TRACK)).toEqual({
      firstTrack: 0,
      count: 2,
    });
    expect(tracksOf({ offsetBytes: 3 * TRACK, lengthBytes: 2 * TRACK }, TRACK)).toEqual({
      firstTrack: 3,
      count: 2,
    });
  });

  it("turns runs into extents clipped to the window at both ends", () => {
    const runs = [
      { firstTrack: 1, count: 2, mapped: true },
      { firstTrack: 3, count: 1, mapped: false },
      { firstTrack: 4, count: 1, mapped: true },
    ];
    const window = { offsetBytes: TRACK + 100, lengthBytes: 4 * TRACK - 200 };
    expect(allocationExtents({ runs, trackSizeBytes: TRACK, window, reqOne: false })).toEqual([
      { lengthBytes: 2 * TRACK - 100, flags: 0 },
      { lengthBytes: TRACK, flags: HOLE },
      { lengthBytes: TRACK - 100, flags: 0 },
    ]);
  });

  it("answers REQ_ONE with the first extent only", () => {
    const runs = [
      { firstTrack: 0, count: 1, mapped: false },
      { firstTrack: 1, count: 1, mapped: true },
    ];
    const window = { offsetBytes: 10, lengthBytes: 2 * TRACK - 10 };
    expect(allocationExtents({ runs, trackSizeBytes: TRACK, window, reqOne: true })).toEqual([
      { lengthBytes: TRACK - 10, flags: HOLE },
    ]);
  });

  it("merges runs of the same status and sums to the window length", () => {
    const runs = [
      { firstTrack: 0, count: 1, mapped: true },
      { firstTrack: 1, count: 1, mapped: true },
    ];
    const window = { offsetBytes: 0, lengthBytes: 2 * TRACK };
    expect(allocationExtents({ runs, trackSizeBytes: TRACK, window, reqOne: false })).toEqual([
      { lengthBytes: 2 * TRACK, flags: 0 },
    ]);
  });
});
