import { describe, expect, it } from "vitest";
import { type JournalEntry, JournalIndex } from "./journal-index.js";

let nextSeq = 1;
function entry(volser: string, track: number, incarnation = 1): JournalEntry {
  return {
    seq: nextSeq++,
    volser,
    incarnation,
    track,
    kind: "zero",
    offsetBytes: 0,
    lengthBytes: 1,
    dataHash: 0n,
    file: 1,
    position: 0,
  };
}

describe("the journal index", () => {
  it("finds a range's entries by track, each track's in the order written", () => {
    const index = new JournalIndex();
    const a = entry("VOLA", 5);
    const b = entry("VOLA", 2);
    const c = entry("VOLA", 5);
    const d = entry("VOLB", 5);
    for (const e of [a, b, c, d]) index.add(e);
    expect(index.entries("VOLA", 0, 10)).toEqual([b, a, c]);
    expect(index.entries("VOLA", 3, 100_000)).toEqual([a, c]);
    expect(index.has("VOLA", 3, 4)).toBe(false);
    expect(index.has("VOLA", 0, 2)).toBe(true);
    expect(index.hasVolume("VOLB")).toBe(true);
    expect(index.hasVolume("VOLC")).toBe(false);
    expect(index.size).toBe(4);
  });

  it("claims the oldest entries up to a number of tracks, and drops them once merged", () => {
    const index = new JournalIndex();
    const entries = [entry("VOLA", 1), entry("VOLA", 2), entry("VOLA", 1), entry("VOLA", 3)];
    for (const e of entries) index.add(e);
    const claim = index.claim(2);
    expect(claim?.entries).toEqual(entries.slice(0, 3));
    expect(claim?.throughSeq).toBe(entries[2].seq);
    expect(index.claim(2)?.entries).toEqual([entries[3]]);
    expect(index.claim(2)).toBeUndefined();
    index.dropThrough(entries[2].seq);
    expect(index.entries("VOLA", 0, 10)).toEqual([entries[3]]);
    expect(index.size).toBe(1);
  });

  it("claims entries again from where a failed merge began", () => {
    const index = new JournalIndex();
    const entries = [entry("VOLA", 1), entry("VOLA", 2)];
    for (const e of entries) index.add(e);
    const claim = index.claim(10);
    expect(claim?.entries).toEqual(entries);
    index.unclaim(entries[0].seq);
    expect(index.claim(10)?.entries).toEqual(entries);
  });

  it("forgets a deleted volume's entries, passing them over in claims, and keeps a new incarnation's", () => {
    const index = new JournalIndex();
    const old = entry("VOLA", 1, 1);
    const other = entry("VOLB", 1, 1);
    index.add(old);
    index.add(other);
    index.dropVolume("VOLA", 1);
    const fresh = entry("VOLA", 1, 2);
    index.add(fresh);
    expect(index.entries("VOLA", 0, 5)).toEqual([fresh]);
    expect(index.size).toBe(2);
    const claim = index.claim(10);
    expect(claim?.entries).toEqual([other, fresh]);
    index.dropThrough(fresh.seq);
    expect(index.size).toBe(0);
    expect(index.hasVolume("VOLA")).toBe(false);
  });

  it("refuses an entry out of sequence", () => {
    const index = new JournalIndex();
    const first = entry("VOLA", 1);
    const second = entry("VOLA", 1);
    index.add(second);
    expect(() => index.add(first)).toThrow();
  });
});
