// Sync mirroring by pieces (link protocol version 3) between two storage systems in this process
// over real link sockets: a host write's own bytes cross, not the whole track; the secondary
// applies them byte-exact through its journal; a host FLUSH makes the secondary flush; tracks the
// secondary acknowledged but never flushed are marked out of sync when the pair suspends; and a
// secondary that speaks only version 2 still gets whole tracks.

import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { NackReason } from "../link/frame-types.js";
import { trackChecksum } from "../link/track-checksum.js";
import {
  expectIdentical,
  type PairSystems,
  PRIMARY_SERIAL,
  SECONDARY_SERIAL,
  startPairSystems,
  waitFor,
} from "../testing/pair-systems.js";

const CYLINDERS = 4;
const TRACK = 57_344;
const TRACKS = CYLINDERS * 15;
const SECONDARY = `${SECONDARY_SERIAL}.01B0.SEC001`;

const whole = { offsetBytes: 0, lengthBytes: TRACKS * TRACK };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Two systems with PRI001 and SEC001 in a sync pair, duplex, the primary full of data. */
async function duplexPair(
  options: { syncTimeoutMs?: number; secondaryLinkVersions?: number[] } = {},
): Promise<PairSystems> {
  const both = await startPairSystems(options);
  cleanups.push(
    () => both.secondary.stop(),
    () => both.primary.stop(),
  );
  const { primary, secondary } = both;
  await primary.store.createVolume({ volser: "PRI001", ssid: "01A0", cylinders: CYLINDERS });
  await secondary.store.createVolume({ volser: "SEC001", ssid: "01B0", cylinders: CYLINDERS });
  await primary.store.write("PRI001", { offsetBytes: 0, data: randomBytes(TRACKS * TRACK) });
  await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
  await waitFor(
    () => primary.pairs.show("PRI001"),
    (info) => info.state === "duplex",
  );
  return both;
}

describe("sync mirroring by pieces", () => {
  it("sends a 4 KiB write at an odd offset as its own bytes, which land byte-exact at the secondary's journal", async () => {
    const both = await duplexPair();
    const { primary, secondary } = both;
    const sentBefore = primary.pairs.show("PRI001").bytesSent;
    const reads = vi.spyOn(primary.store, "read");
    const data = randomBytes(4096);
    const offsetBytes = 7 * TRACK + 12_345;
    await primary.host.write("PRI001", { offsetBytes, data });
    // No whole-track read on the primary, and only the host's bytes crossed.
    expect(reads).not.toHaveBeenCalled();
    expect(primary.pairs.show("PRI001").bytesSent - sentBefore).toBe(4096);
    // The secondary took it as a small write: into its journal, not a new track chunk.
    expect(secondary.store.usage().journal.entries).toBeGreaterThan(0);
    const there = await secondary.store.read("SEC001", { offsetBytes, lengthBytes: 4096 });
    expect(there.equals(data)).toBe(true);
    // A write across a track boundary and a zero of part of a track go as pieces too.
    await primary.host.write("PRI001", { offsetBytes: 10 * TRACK - 1000, data: randomBytes(3000) });
    await primary.host.zero("PRI001", { offsetBytes: 20 * TRACK + 511, lengthBytes: 9000 });
    expect(reads).not.toHaveBeenCalled();
    await expectIdentical(both);
    expect(primary.pairs.show("PRI001")).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
  });

  it("makes the secondary flush on a host FLUSH of the primary, and only when it holds unflushed writes", async () => {
    const { primary, secondary } = await duplexPair();
    const flushes = vi.spyOn(secondary.store, "flush");
    await primary.host.flush();
    expect(flushes).toHaveBeenCalledTimes(0);
    await primary.host.write("PRI001", { offsetBytes: 3 * TRACK + 1, data: randomBytes(4096) });
    await primary.host.flush();
    expect(flushes).toHaveBeenCalledTimes(1);
    await primary.host.flush();
    expect(flushes).toHaveBeenCalledTimes(1);
    expect(primary.pairs.show("PRI001")).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
  });

  it("marks out of sync the tracks the secondary acknowledged but never flushed when the pair suspends", async () => {
    const both = await duplexPair({ syncTimeoutMs: 300 });
    const { primary, secondary } = both;
    await primary.host.write("PRI001", { offsetBytes: 2 * TRACK + 100, data: randomBytes(512) });
    await primary.host.flush();
    await primary.host.write("PRI001", { offsetBytes: 5 * TRACK + 100, data: randomBytes(512) });
    await primary.host.write("PRI001", { offsetBytes: 9 * TRACK + 100, data: randomBytes(512) });
    expect(primary.pairs.show("PRI001").tracksOutOfSync).toBe(0);
    await secondary.stop();
    await primary.host.write("PRI001", { offsetBytes: 1 * TRACK, data: randomBytes(4096) });
    // Track 1 (the write that failed), 5 and 9 (acknowledged, not flushed); not 2 (flushed).
    const info = await waitFor(
      () => primary.pairs.show("PRI001"),
      (pair) => pair.state === "suspended",
    );
    expect(info).toMatchObject({ reason: "link failure", tracksOutOfSync: 3 });
    const marked = [1, 2, 5, 9].map((track) =>
      primary.pairs.primaryOf("PRI001")?.bitmap.isDirty(track),
    );
    expect(marked).toEqual([true, false, true, true]);
  });

  it("suspends the pair when the secondary cannot flush, and the FLUSH still succeeds for the primary", async () => {
    const { primary, secondary } = await duplexPair({ syncTimeoutMs: 300 });
    await primary.host.write("PRI001", { offsetBytes: 4 * TRACK + 3, data: randomBytes(4096) });
    vi.spyOn(secondary.store, "flush").mockRejectedValue(new Error("the disk is gone"));
    await primary.host.flush();
    expect(primary.pairs.show("PRI001")).toMatchObject({
      state: "suspended",
      reason: "secondary error",
      tracksOutOfSync: 1,
    });
    expect(primary.pairs.primaryOf("PRI001")?.bitmap.isDirty(4)).toBe(true);
  });

  it("refuses a piece that does not fit the secondary volume's geometry, or for a volume in no pair with the sender", async () => {
    const { secondary } = await duplexPair();
    const data = Buffer.alloc(16, 9);
    const piece = {
      type: "TRACK_PIECE" as const,
      requestId: 1,
      volser: "SEC001",
      trackNumber: 3,
      offsetBytes: TRACK - 8,
      lengthBytes: 16,
      checksum: trackChecksum(data),
      data,
    };
    const before = await secondary.store.read("SEC001", whole);
    expect(await secondary.pairs.handlePeer(piece, PRIMARY_SERIAL)).toEqual({
      type: "NACK",
      reason: NackReason.TRACK_OUT_OF_RANGE,
    });
    const pastEnd = { ...piece, trackNumber: TRACKS, offsetBytes: 0 };
    expect(await secondary.pairs.handlePeer(pastEnd, PRIMARY_SERIAL)).toEqual({
      type: "NACK",
      reason: NackReason.TRACK_OUT_OF_RANGE,
    });
    const fits = { ...piece, offsetBytes: 0 };
    expect(await secondary.pairs.handlePeer(fits, "0000000009")).toEqual({
      type: "NACK",
      reason: NackReason.NOT_PAIRED,
    });
    const after = await secondary.store.read("SEC001", whole);
    expect(after.equals(before)).toBe(true);
  });

  it("mirrors whole tracks to a secondary that speaks only link protocol version 2", async () => {
    const both = await duplexPair({ secondaryLinkVersions: [1, 2] });
    const { primary, secondary } = both;
    const sentBefore = primary.pairs.show("PRI001").bytesSent;
    const data = randomBytes(4096);
    const offsetBytes = 11 * TRACK + 777;
    await primary.host.write("PRI001", { offsetBytes, data });
    // The whole track crossed, as before version 3.
    expect(primary.pairs.show("PRI001").bytesSent - sentBefore).toBe(TRACK);
    const there = await secondary.store.read("SEC001", { offsetBytes, lengthBytes: 4096 });
    expect(there.equals(data)).toBe(true);
    await primary.host.zero("PRI001", { offsetBytes: 12 * TRACK + 10, lengthBytes: 100 });
    await expectIdentical(both);
    // A FLUSH reaches it too (CONTROL FLUSH is older than version 3).
    const flushes = vi.spyOn(secondary.store, "flush");
    await primary.host.flush();
    expect(flushes).toHaveBeenCalledTimes(1);
    expect(primary.pairs.show("PRI001")).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
  });
});
