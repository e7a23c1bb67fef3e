import { describe, expect, it } from "vitest";
import { PendingTracks, wholeVolume } from "./pending-tracks.js";

describe("pending tracks", () => {
  it("says which spans a pending change may remap, until it settles", () => {
    const pending = new PendingTracks();
    const write = pending.add([{ volser: "A", first: 10, last: 19 }]);
    expect(pending.overlaps({ volser: "A", first: 19, last: 19 })).toBe(true);
    expect(pending.overlaps({ volser: "A", first: 5, last: 10 })).toBe(true);
    expect(pending.overlaps({ volser: "A", first: 20, last: 30 })).toBe(false);
    expect(pending.overlaps({ volser: "B", first: 10, last: 19 })).toBe(false);
    const recreate = pending.add([wholeVolume("B")]);
    expect(pending.overlaps({ volser: "B", first: 1e9, last: 1e9 })).toBe(true);
    pending.settle(write);
    expect(pending.overlaps({ volser: "A", first: 19, last: 19 })).toBe(false);
    pending.settle(recreate);
    expect(pending.overlaps({ volser: "B", first: 0, last: 0 })).toBe(false);
  });
});
