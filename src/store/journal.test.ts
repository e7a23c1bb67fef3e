import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { codeOfAsync as codeOf } from "../testing/error-code.js";
import { chunkChecksum } from "./checksum.js";
import { RECORD_HEADER_BYTES } from "./journal-record.js";
import { Store, type StoreOptions } from "./store.js";

const TRACK = 57_344;
const dirs: string[] = [];
const stores: Store[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-journal-"));
  dirs.push(dir);
  return dir;
}

async function openStore(dir: string, options: StoreOptions = {}): Promise<Store> {
  const store = await Store.open(dir, {
    collectorIntervalMs: false,
    mergeIdleMs: false,
    ...options,
  });
  stores.push(store);
  return store;
}

async function closeStore(store: Store): Promise<void> {
  stores.splice(stores.indexOf(store), 1);
  await store.close();
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) buffer[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return buffer;
}

function journalFile(dir: string, number = 1): string {
  return path.join(dir, "journal", `${String(number).padStart(8, "0")}.jnl`);
}

async function readTrack(store: Store, track: number, volser = "VOL001"): Promise<Buffer> {
  return store.read(volser, { offsetBytes: track * TRACK, lengthBytes: TRACK });
}

describe("the write-back journal", () => {
  it("acknowledges a small write without storing a chunk, and merges it into one when asked", async () => {
    const store = await openStore(tempDir());
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    const piece = pattern(4_096, 1);
    await store.write("VOL001", { offsetBytes: 3 * TRACK + 8_192, data: piece });
    expect(store.usage().liveBytes).toBe(0);
    const journaled = store.usage().journal;
    expect(journaled.entries).toBe(1);
    expect(journaled.usedBytes).toBe(RECORD_HEADER_BYTES + piece.length);
    expect(journaled.capacityBytes).toBeGreaterThan(journaled.usedBytes);
    const expected = Buffer.alloc(TRACK);
    piece.copy(expected, 8_192);
    expect((await readTrack(store, 3)).equals(expected)).toBe(true);
    expect(store.showVolume("VOL001").allocatedTracks).toBe(1);
    expect(store.allocation("VOL001", { firstTrack: 2, count: 3 })).toEqual([
      { firstTrack: 2, count: 1, mapped: false },
      { firstTrack: 3, count: 1, mapped: true },
      { firstTrack: 4, count: 1, mapped: false },
    ]);
    expect((await store.check()).problems).toEqual([]);
    expect(store.usage().liveBytes).toBeGreaterThanOrEqual(TRACK);
    expect(store.usage().journal.entries).toBe(0);
    expect((await readTrack(store, 3)).equals(expected)).toBe(true);
  });

  it("lays zeroed pieces and later writes over a track in the order they came", async () => {
    const store = await openStore(tempDir());
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    const whole = pattern(TRACK, 2);
    await store.write("VOL001", { offsetBytes: 0, data: whole });
    await store.write("VOL001", { offsetBytes: 100, data: Buffer.alloc(50, 0xaa) });
    await store.zero("VOL001", { offsetBytes: 120, lengthBytes: 1_000 });
    await store.write("VOL001", { offsetBytes: 500, data: Buffer.alloc(10, 0xbb) });
    const expected = Buffer.from(whole);
    expected.fill(0xaa, 100, 150);
    expected.fill(0, 120, 1_120);
    expected.fill(0xbb, 500, 510);
    expect((await readTrack(store, 0)).equals(expected)).toBe(true);
    // A whole-track write to a track with journaled pieces goes after them, through the journal.
    const next = pattern(2 * TRACK, 3);
    await store.write("VOL001", { offsetBytes: 0, data: next });
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: 2 * TRACK })).equals(next),
    ).toBe(true);
    expect((await store.check()).problems).toEqual([]);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: 2 * TRACK })).equals(next),
    ).toBe(true);
  });

  it("gives a copy the journaled bytes of a track with their checksum, and no stale block checksums", async () => {
    const store = await openStore(tempDir());
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: TRACK + 10, data: Buffer.alloc(30, 0xcc) });
    const into = Buffer.alloc(3 * TRACK, 0xff);
    const { checksums, blockSums } = await store.readTracks("VOL001", {
      runs: [{ firstTrack: 0, count: 3 }],
      into,
    });
    const expected = Buffer.alloc(TRACK);
    expected.fill(0xcc, 10, 40);
    expect(into.subarray(TRACK, 2 * TRACK).equals(expected)).toBe(true);
    expect(checksums).toEqual([undefined, chunkChecksum(expected), undefined]);
    // The track's chunk record (if any) is older than its journaled writes: no block checksums.
    expect(blockSums).toEqual([undefined, undefined, undefined]);
    expect(await store.trackChecksums("VOL001", { firstTrack: 1, count: 1 })).toEqual([
      chunkChecksum(expected),
    ]);
  });

  it("snaps a source's journaled writes, and replaces the target's older ones", async () => {
    const store = await openStore(tempDir());
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.createVolume({ volser: "VOL002", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: 10, data: Buffer.alloc(20, 0x11) });
    await store.write("VOL002", { offsetBytes: 30, data: Buffer.alloc(20, 0x22) });
    await store.snap({
      source: { volser: "VOL001", extents: [{ firstTrack: 0, lastTrack: 14 }] },
      target: { volser: "VOL002" },
    });
    const expected = Buffer.alloc(TRACK);
    expected.fill(0x11, 10, 30);
    expect((await readTrack(store, 0, "VOL002")).equals(expected)).toBe(true);
    await store.write("VOL002", { offsetBytes: 0, data: Buffer.alloc(5, 0x33) });
    expected.fill(0x33, 0, 5);
    expect((await readTrack(store, 0, "VOL002")).equals(expected)).toBe(true);
    expected.fill(0, 0, 5);
    expect((await readTrack(store, 0, "VOL001")).equals(expected)).toBe(true);
  });

  it("replays writes not yet merged after a restart, and never replays merged ones", async () => {
    const dir = tempDir();
    const first = await openStore(dir);
    await first.createVolume({ volser: "VOL001", cylinders: 1 });
    await first.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(100, 0x44) });
    await first.check(); // merges it
    // No journaled pieces on track 0 now: this write maps the track directly, over the merge.
    const whole = pattern(TRACK, 5);
    await first.write("VOL001", { offsetBytes: 0, data: whole });
    await first.write("VOL001", { offsetBytes: 2 * TRACK + 7, data: Buffer.alloc(9, 0x55) });
    await closeStore(first);
    const second = await openStore(dir);
    expect((await readTrack(second, 0)).equals(whole)).toBe(true);
    const expected = Buffer.alloc(TRACK);
    expected.fill(0x55, 7, 16);
    expect((await readTrack(second, 2)).equals(expected)).toBe(true);
    expect((await second.check()).problems).toEqual([]);
    expect((await readTrack(second, 2)).equals(expected)).toBe(true);
  });

  it("drops a torn last record at replay, keeps the records before it and writes on after them", async () => {
    const dir = tempDir();
    const first = await openStore(dir);
    await first.createVolume({ volser: "VOL001", cylinders: 1 });
    await first.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(100, 0x66) });
    await first.write("VOL001", { offsetBytes: TRACK, data: Buffer.alloc(100, 0x77) });
    await closeStore(first);
    // The second record's data, half written when the power went.
    const file = fs.openSync(journalFile(dir), "r+");
    fs.writeSync(file, Buffer.alloc(50), 0, 50, 2 * RECORD_HEADER_BYTES + 100 + 50);
    fs.closeSync(file);
    const second = await openStore(dir);
    const kept = Buffer.alloc(TRACK);
    kept.fill(0x66, 0, 100);
    expect((await readTrack(second, 0)).equals(kept)).toBe(true);
    expect((await readTrack(second, 1)).equals(Buffer.alloc(TRACK))).toBe(true);
    await second.write("VOL001", { offsetBytes: 2 * TRACK, data: Buffer.alloc(100, 0x88) });
    await closeStore(second);
    const third = await openStore(dir);
    expect((await readTrack(third, 0)).equals(kept)).toBe(true);
    const later = Buffer.alloc(TRACK);
    later.fill(0x88, 0, 100);
    expect((await readTrack(third, 2)).equals(later)).toBe(true);
  });

  it("keeps a deleted volume's journaled writes from the volume created anew with its VOLSER, across a restart", async () => {
    const dir = tempDir();
    const first = await openStore(dir);
    await first.createVolume({ volser: "VOL001", cylinders: 1 });
    await first.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(100, 0x99) });
    await first.deleteVolume("VOL001");
    await first.createVolume({ volser: "VOL001", cylinders: 1 });
    expect((await readTrack(first, 0)).equals(Buffer.alloc(TRACK))).toBe(true);
    await closeStore(first);
    const second = await openStore(dir);
    expect((await readTrack(second, 0)).equals(Buffer.alloc(TRACK))).toBe(true);
    expect((await second.check()).problems).toEqual([]);
  });

  it("makes writers wait for merges when the journal is full, never failing them, and reuses its files", async () => {
    const dir = tempDir();
    const fileBytes = 64 * 1024;
    const store = await openStore(dir, {
      journalBytes: 2 * fileBytes,
      journalFileBytes: fileBytes,
    });
    await store.createVolume({ volser: "VOL001", cylinders: 2 });
    const model = Buffer.alloc(30 * TRACK);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 200; i += 1) {
      const offsetBytes = ((i * 7919) % (30 * 14)) * 4_096;
      const data = pattern(4_096, i);
      data.copy(model, offsetBytes);
      writes.push(store.write("VOL001", { offsetBytes, data }));
    }
    await Promise.all(writes);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: 30 * TRACK })).equals(model),
    ).toBe(true);
    // 200 records of 4 KiB need 13 files of 64 KiB: the journal made at most three, reusing them.
    const names = fs.readdirSync(path.join(dir, "journal"));
    expect(names.filter((name) => /^\d{8}\.jnl$/.test(name)).length).toBeLessThanOrEqual(2);
    expect(names.length).toBeLessThanOrEqual(3);
    expect(names.some((name) => Number(name.slice(0, 8)) > 10)).toBe(true);
    await closeStore(store);
    const again = await openStore(dir, {
      journalBytes: 2 * fileBytes,
      journalFileBytes: fileBytes,
    });
    expect(
      (await again.read("VOL001", { offsetBytes: 0, lengthBytes: 30 * TRACK })).equals(model),
    ).toBe(true);
    expect((await again.check()).problems).toEqual([]);
  });

  it("refuses a read of a journal record that fails its checksum with JOURNAL_CORRUPT", async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(100, 0x12) });
    const file = fs.openSync(journalFile(dir), "r+");
    fs.writeSync(file, Buffer.from([0x13]), 0, 1, RECORD_HEADER_BYTES + 50);
    fs.closeSync(file);
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: 0, lengthBytes: 10 }))).toBe(
      "JOURNAL_CORRUPT",
    );
  });
});
