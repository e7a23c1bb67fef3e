import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OosBitmap } from "./oos-bitmap.js";

/** Reads a persisted bit. */
function persisted(bitmap: OosBitmap, track: number): boolean {
  return (bitmap.bits[track >> 3] & (1 << (track & 7))) !== 0;
}

describe("OosBitmap", () => {
  it("hands out dirty tracks in runs from the cursor, wrapping once, and counts what is out of sync", () => {
    const bitmap = new OosBitmap(40, undefined);
    bitmap.mark({ firstTrack: 3, count: 5 });
    bitmap.mark({ firstTrack: 30, count: 2 });
    expect(bitmap.count).toBe(7);
    expect(bitmap.take(3)).toEqual({ firstTrack: 3, count: 3 });
    expect(bitmap.take(16)).toEqual({ firstTrack: 6, count: 2 });
    bitmap.mark({ firstTrack: 0, count: 1 });
    expect(bitmap.take(16)).toEqual({ firstTrack: 30, count: 2 });
    expect(bitmap.take(16)).toEqual({ firstTrack: 0, count: 1 });
    expect(bitmap.take(16)).toBeUndefined();
    expect(bitmap.count).toBe(8);
    for (const track of [0, 3, 4, 5, 6, 7, 30, 31]) bitmap.acknowledge(track);
    expect(bitmap.count).toBe(0);
  });

  it("keeps a track persisted while in flight, and dirty again when written after it was taken", () => {
    const changed: number[] = [];
    const bitmap = new OosBitmap(16, undefined, (index) => changed.push(index));
    bitmap.mark({ firstTrack: 9, count: 1 });
    expect(changed).toEqual([1]);
    expect(bitmap.take(1)).toEqual({ firstTrack: 9, count: 1 });
    expect(persisted(bitmap, 9)).toBe(true);
    // A host write lands while the old image is on its way.
    bitmap.mark({ firstTrack: 9, count: 1 });
    bitmap.acknowledge(9);
    expect(persisted(bitmap, 9)).toBe(true);
    expect(bitmap.count).toBe(1);
    expect(bitmap.take(1)).toEqual({ firstTrack: 9, count: 1 });
    bitmap.acknowledge(9);
    expect(persisted(bitmap, 9)).toBe(false);
    expect(changed).toEqual([1, 1]);
  });

  it("makes failed and abandoned sends dirty again", () => {
    const bitmap = new OosBitmap(8, undefined);
    bitmap.markAll();
    expect(bitmap.take(8)).toEqual({ firstTrack: 0, count: 8 });
    bitmap.fail(2);
    bitmap.abandonInFlight();
    expect(bitmap.count).toBe(8);
    expect(bitmap.take(8)).toEqual({ firstTrack: 0, count: 8 });
  });

  it("sync sends set the persisted bit before they go and clear it when acknowledged", () => {
    const bitmap = new OosBitmap(8, undefined);
    bitmap.beginSend({ firstTrack: 4, count: 2 });
    expect(persisted(bitmap, 4) && persisted(bitmap, 5)).toBe(true);
    expect(bitmap.take(8)).toBeUndefined();
    bitmap.acknowledge(4);
    bitmap.fail(5);
    expect(persisted(bitmap, 4)).toBe(false);
    expect(bitmap.take(8)).toEqual({ firstTrack: 5, count: 1 });
  });

  it("reloads persisted bits as dirty", () => {
    const first = new OosBitmap(20, undefined);
    first.mark({ firstTrack: 17, count: 3 });
    first.beginSend({ firstTrack: 2, count: 1 });
    const second = new OosBitmap(20, first.bits);
    expect(second.count).toBe(4);
    expect(second.take(20)).toEqual({ firstTrack: 2, count: 1 });
    expect(second.take(20)).toEqual({ firstTrack: 17, count: 3 });
  });

  it("counts a copy's work, not the volume: 245 of 1,318 tracks left of a 3390-A of 10,017 cylinders", () => {
    // Issue 17: a GSC's pair copies the tracks that differ, a few of a large intermediate.
    const bitmap = new OosBitmap(10_017 * 15, undefined);
    bitmap.mark({ firstTrack: 1_000, count: 1_318 });
    expect(bitmap.tracksToCopy).toBe(1_318);
    const run = bitmap.take(1_073) as { firstTrack: number; count: number };
    for (let t = run.firstTrack; t < run.firstTrack + run.count; t += 1) bitmap.acknowledge(t);
    expect(bitmap.count).toBe(245);
    expect(bitmap.tracksToCopy).toBe(1_318);
  });

  it("adds tracks changed during a copy to its work, and starts the next copy from what is left", () => {
    const bitmap = new OosBitmap(100, undefined);
    bitmap.mark({ firstTrack: 0, count: 10 });
    bitmap.take(4);
    for (const track of [0, 1, 2, 3]) bitmap.acknowledge(track);
    // Written again after being sent (0), and new (50, 51): three more to copy; 5 is dirty already.
    bitmap.mark({ firstTrack: 0, count: 1 });
    bitmap.mark({ firstTrack: 50, count: 2 });
    bitmap.mark({ firstTrack: 5, count: 1 });
    expect(bitmap.count).toBe(9);
    expect(bitmap.tracksToCopy).toBe(13);
    bitmap.beginCopy();
    expect(bitmap.tracksToCopy).toBe(9);
  });

  it("restarts a copy's work from the persisted bits", () => {
    const first = new OosBitmap(20, undefined);
    first.mark({ firstTrack: 3, count: 4 });
    expect(new OosBitmap(20, first.bits).tracksToCopy).toBe(4);
  });

  it("matches a model: persisted bits cover every track changed and not acknowledged since", () => {
    const TRACKS = 37;
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("mark" as const),
        first: fc.nat(TRACKS - 1),
        count: fc.integer({ min: 1, max: 5 }),
      }),
      fc.record({ kind: fc.constant("take" as const), max: fc.integer({ min: 1, max: 16 }) }),
      fc.record({ kind: fc.constant("ack" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("fail" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("abandon" as const) }),
      fc.record({ kind: fc.constant("begin" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const bitmap = new OosBitmap(TRACKS, undefined);
        // Model: tracks to send, and sends in flight (a track may fly twice).
        const dirty = new Set<number>();
        const sending: number[] = [];
        // The copy's work: out of sync when it began, and every track out of sync since.
        let toCopy = 0;
        for (const step of ops) {
          const before = new Set([...dirty, ...sending]);
          if (step.kind === "begin") {
            bitmap.beginCopy();
            toCopy = before.size;
          } else if (step.kind === "mark") {
            const count = Math.min(step.count, TRACKS - step.first);
            bitmap.mark({ firstTrack: step.first, count });
            for (let t = step.first; t < step.first + count; t += 1) dirty.add(t);
          } else if (step.kind === "take") {
            const run = bitmap.take(step.max);
            if (run === undefined) {
              expect(dirty.size).toBe(0);
              continue;
            }
            for (let t = run.firstTrack; t < run.firstTrack + run.count; t += 1) {
              expect(dirty.delete(t)).toBe(true);
              sending.push(t);
            }
          } else if (step.kind === "abandon") {
            bitmap.abandonInFlight();
            for (const t of sending.splice(0)) dirty.add(t);
          } else if (sending.length > 0) {
            const [track] = sending.splice(step.pick % sending.length, 1);
            if (step.kind === "ack") bitmap.acknowledge(track);
            else {
              bitmap.fail(track);
              dirty.add(track);
            }
          }
          const out = new Set([...dirty, ...sending]);
          for (let t = 0; t < TRACKS; t += 1) expect(persisted(bitmap, t)).toBe(out.has(t));
          expect(bitmap.count).toBe(out.size);
          toCopy += [...out].filter((t) => !before.has(t)).length;
          expect(bitmap.tracksToCopy).toBe(toCopy);
        }
      }),
    );
  });
});
