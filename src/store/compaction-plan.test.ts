import { describe, expect, it } from "vitest";
import {
  COMPACT_BYTES_PER_STEP,
  COMPACT_HEADROOM_BYTES,
  chooseSegment,
  SEAL_ACTIVE_MIN_BYTES,
  type SegmentCandidate,
  windowBytes,
} from "./compaction-plan.js";

const MIB = 1024 * 1024;
const relaxed = { pressed: false, freeBytes: Number.POSITIVE_INFINITY };
const pressed = { pressed: true, freeBytes: 100 * MIB };

function segment(
  id: number,
  sizeMib: number,
  liveMib: number,
  more: Partial<SegmentCandidate> = {},
): SegmentCandidate {
  return {
    segment: id,
    sizeBytes: sizeMib * MIB,
    liveBytes: liveMib * MIB,
    active: false,
    busy: false,
    ...more,
  };
}

describe("chooseSegment", () => {
  it("compacts the emptiest sealed segment under half live while the disk has room", () => {
    const candidates = [segment(1, 256, 120), segment(2, 256, 30), segment(3, 256, 200)];
    expect(chooseSegment(candidates, relaxed)).toEqual({ segment: 2, seal: false });
    expect(chooseSegment([segment(3, 256, 200)], relaxed)).toBeUndefined();
  });

  it("leaves busy segments and empty ones alone", () => {
    expect(chooseSegment([segment(1, 256, 0, { busy: true })], relaxed)).toBeUndefined();
    expect(chooseSegment([segment(1, 0, 0)], relaxed)).toBeUndefined();
  });

  it("seals a mostly dead active segment once it is big, or when the disk is full, or when all of it is dead", () => {
    const small = segment(4, 32, 1, { active: true });
    expect(chooseSegment([small], relaxed)).toBeUndefined();
    expect(chooseSegment([small], pressed)).toEqual({ segment: 4, seal: true });
    const dead = segment(6, 32, 0, { active: true });
    expect(chooseSegment([dead], relaxed)).toEqual({ segment: 6, seal: true });
    const big = segment(5, SEAL_ACTIVE_MIN_BYTES / MIB, 1, { active: true });
    expect(chooseSegment([big], relaxed)).toEqual({ segment: 5, seal: true });
  });

  it("pressed, compacts a segment with a MiB or more dead and under 90% live", () => {
    expect(chooseSegment([segment(1, 20, 15)], relaxed)).toBeUndefined();
    expect(chooseSegment([segment(1, 20, 15)], pressed)).toEqual({ segment: 1, seal: false });
    expect(chooseSegment([segment(1, 20, 19)], pressed)).toBeUndefined();
    expect(chooseSegment([segment(1, 4, 3.5)], pressed)).toBeUndefined();
  });
});

describe("windowBytes", () => {
  it("copies a full window while the disk has room, and what the free space allows when pressed", () => {
    expect(windowBytes(relaxed)).toBe(COMPACT_BYTES_PER_STEP);
    expect(windowBytes(pressed)).toBe(COMPACT_BYTES_PER_STEP);
    expect(windowBytes({ pressed: true, freeBytes: 3 * MIB })).toBe(
      3 * MIB - COMPACT_HEADROOM_BYTES,
    );
    expect(windowBytes({ pressed: true, freeBytes: COMPACT_HEADROOM_BYTES / 2 })).toBe(0);
  });
});
