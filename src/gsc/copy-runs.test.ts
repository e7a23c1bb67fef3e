import { describe, expect, it } from "vitest";
import { parseExtentList } from "../geometry/address.js";
import { MAX_CHECKSUM_RUNS, MAX_CHECKSUM_TRACKS } from "./control-body.js";
import {
  CHECKSUM_BYTES,
  checksumList,
  differingPositions,
  gatherChecksums,
  positionAt,
  positionCount,
  tracksAt,
} from "./copy-runs.js";
import { checksumBatches } from "./remote-system.js";

describe("copy runs", () => {
  it("finds the positions where two checksum lists differ, as runs", () => {
    const expected = checksumList([1n, 2n, 3n, 4n, 5n, 2n ** 64n - 1n]);
    const held = checksumList([1n, 0n, 0n, 4n, 5n, 2n ** 32n - 1n]);
    expect(differingPositions(expected, held)).toEqual([
      { firstPosition: 1, count: 2 },
      { firstPosition: 5, count: 1 },
    ]);
    expect(differingPositions(expected, Buffer.from(expected))).toEqual([]);
    // Only the high word differs: still a difference.
    expect(differingPositions(checksumList([1n << 40n]), checksumList([0n]))).toHaveLength(1);
  });

  it("takes the checksums of runs of positions, in run order, and finds a run's track again", () => {
    const list = checksumList([10n, 11n, 12n, 13n, 14n]);
    const runs = [
      { firstPosition: 3, count: 2 },
      { firstPosition: 0, count: 1 },
    ];
    const gathered = gatherChecksums(list, runs);
    expect(gathered.length).toBe(3 * CHECKSUM_BYTES);
    expect(gathered.readBigUInt64BE(0)).toBe(13n);
    expect(gathered.readBigUInt64BE(16)).toBe(10n);
    expect(positionCount(runs)).toBe(3);
    expect([0, 1, 2].map((index) => positionAt(runs, index))).toEqual([3, 4, 0]);
    expect(() => positionAt(runs, 3)).toThrow();
  });

  it("places positions on a volume's extents, splitting a run where an extent ends", () => {
    // 0.0-0.14 holds positions 0-14, 10.0-10.14 positions 15-29 (tracks 150-164).
    const source = parseExtentList("0.0-0.14+10.0-10.14");
    const runs = [
      { firstPosition: 2, count: 3 },
      { firstPosition: 14, count: 2 },
      { firstPosition: 29, count: 1 },
    ];
    expect(tracksAt(source, runs)).toEqual([
      { firstTrack: 2, count: 3 },
      { firstTrack: 14, count: 1 },
      { firstTrack: 150, count: 1 },
      { firstTrack: 164, count: 1 },
    ]);
    // The same positions on one target extent of 30 tracks: neighbours are joined.
    expect(tracksAt(parseExtentList("20.0-21.14"), runs)).toEqual([
      { firstTrack: 302, count: 3 },
      { firstTrack: 314, count: 2 },
      { firstTrack: 329, count: 1 },
    ]);
    expect(tracksAt(source, [])).toEqual([]);
    expect(() => tracksAt(source, [{ firstPosition: 29, count: 2 }])).toThrow();
  });

  it("asks for checksums in requests of at most MAX_CHECKSUM_TRACKS tracks and MAX_CHECKSUM_RUNS runs", () => {
    const long = checksumBatches([{ firstTrack: 7, count: MAX_CHECKSUM_TRACKS + 5 }]);
    expect(long).toEqual([
      { runs: [{ firstTrack: 7, count: MAX_CHECKSUM_TRACKS }], tracks: MAX_CHECKSUM_TRACKS },
      { runs: [{ firstTrack: 7 + MAX_CHECKSUM_TRACKS, count: 5 }], tracks: 5 },
    ]);
    const scattered = Array.from({ length: MAX_CHECKSUM_RUNS + 1 }, (_, index) => ({
      firstTrack: index * 100,
      count: 1,
    }));
    const batches = checksumBatches(scattered);
    expect(batches.map((batch) => batch.runs.length)).toEqual([MAX_CHECKSUM_RUNS, 1]);
    // Scattered runs of a small change go in one request, not one request per run.
    expect(checksumBatches(scattered.slice(0, 375))).toHaveLength(1);
    expect(checksumBatches([])).toEqual([]);
  });
});
