import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChunkNotLocal } from "../store/chunk-device.js";
import { Store } from "../store/store.js";
import { codeOfAsync as codeOf } from "../testing/error-code.js";
import { MemoryObjectStore } from "../testing/memory-object-store.js";
import { testObjectDevice } from "../testing/object-device.js";
import { CLAIM_KEY, segmentKey } from "./segment-keys.js";

const TRACK = 57_344;
const dirs: string[] = [];
const open: Store[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-objects-"));
  dirs.push(dir);
  return dir;
}

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) buffer[i] = (i * 13 + seed * 29 + 3) & 0xff;
  return buffer;
}

/** A store whose chunks go to `objects`: 4-track segments, the least cache, quick sealing. */
async function openStore(dir: string, objects: MemoryObjectStore, blockBytes = 65_536) {
  const opened = testObjectDevice(() => objects, {
    segmentTracks: 4,
    trackBytes: TRACK,
    blockBytes,
    // Raised by the device to its least: 68 blocks.
    cacheBytes: 0,
    sealIdleMs: 20,
  });
  const store = await Store.open(dir, { collectorIntervalMs: false, device: opened.device });
  open.push(store);
  return { store, device: opened.deviceOf(dir) };
}

async function closeStore(store: Store): Promise<void> {
  open.splice(open.indexOf(store), 1);
  await store.close();
}

function segmentObjects(objects: MemoryObjectStore): string[] {
  return [...objects.objects.keys()].filter((key) => key.startsWith("segments/")).sort();
}

describe("object segment device", () => {
  it("uploads sealed segments, drops their staging files and reads them back through the cache", async () => {
    const dir = tempDir();
    const objects = new MemoryObjectStore();
    const { store, device } = await openStore(dir, objects);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    const data = pattern(10 * TRACK, 1);
    await store.write("VOL001", { offsetBytes: 0, data });
    await store.flush();
    await device.drained();
    expect(segmentObjects(objects).length).toBeGreaterThanOrEqual(3);
    expect(fs.readdirSync(path.join(dir, "staging")).filter((n) => n.endsWith(".seg"))).toEqual([]);
    const getsBefore = objects.stats.gets;
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
    expect(objects.stats.gets).toBeGreaterThan(getsBefore);
    expect(device.stats().stagedSegments).toBe(0);
    expect((await store.check()).problems).toEqual([]);
  });

  it("scans an uploaded segment's record headers once they are fetched, as it did while staged", async () => {
    const objects = new MemoryObjectStore();
    const { store, device } = await openStore(tempDir(), objects);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(4 * TRACK, 10) });
    await store.flush();
    const window = { fromOffsetBytes: 0, maxBytes: 1 << 20 };
    const [segment] = [...device.segmentSizes().keys()];
    const staged = device.scan(segment, window);
    expect(staged.length).toBeGreaterThan(0);
    await device.drained();
    expect(() => device.scan(segment, window)).toThrow(ChunkNotLocal);
    await device.fetch([{ segment, offsetBytes: 0, lengthBytes: device.segmentSize(segment) }]);
    expect(device.scan(segment, window)).toEqual(staged);
  });

  it("serves a second read of the same track from the cache", async () => {
    const objects = new MemoryObjectStore();
    const { store, device } = await openStore(tempDir(), objects);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(4 * TRACK, 2) });
    await device.drained();
    await store.read("VOL001", { offsetBytes: TRACK, lengthBytes: TRACK });
    const gets = objects.stats.gets;
    const hits = device.stats().cacheHits;
    await store.read("VOL001", { offsetBytes: TRACK, lengthBytes: TRACK });
    expect(objects.stats.gets).toBe(gets);
    expect(device.stats().cacheHits).toBeGreaterThan(hits);
  });

  it("writes part of a track whose chunk is only in the object store (fetched, then overlaid)", async () => {
    const objects = new MemoryObjectStore();
    // 4 KiB blocks make a cache of 272 KiB: under five tracks, so the partial writes' tracks
    // leave it before their changes run and are fetched again inside them.
    const { store, device } = await openStore(tempDir(), objects, 4_096);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    const data = pattern(8 * TRACK, 3);
    await store.write("VOL001", { offsetBytes: 0, data });
    await device.drained();
    const patch = Buffer.alloc(4_096, 0xab);
    await Promise.all([
      store.write("VOL001", { offsetBytes: 5 * TRACK + 8_192, data: patch }),
      store.write("VOL001", { offsetBytes: 2 * TRACK + 100, data: patch }),
      store.zero("VOL001", { offsetBytes: 6 * TRACK + 10, lengthBytes: 20 }),
    ]);
    patch.copy(data, 5 * TRACK + 8_192);
    patch.copy(data, 2 * TRACK + 100);
    data.fill(0, 6 * TRACK + 10, 6 * TRACK + 30);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
    expect((await store.check()).problems).toEqual([]);
  });

  it("keeps writes to one track in order while a partial write waits for a fetch", async () => {
    const objects = new MemoryObjectStore();
    // 4 KiB blocks: a 272 KiB cache, which the reads below empty of track 0 before the partial
    // write's change runs, so that it fetches its track again inside the change.
    const { store, device } = await openStore(tempDir(), objects, 4_096);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(10 * TRACK, 4) });
    await device.drained();
    for (let round = 0; round < 5; round += 1) {
      const whole = pattern(TRACK, 5 + round);
      // The partial write is asked first and must land first; the whole-track write overwrites it.
      await Promise.all([
        store.write("VOL001", { offsetBytes: 100, data: Buffer.alloc(10, 1) }),
        store.read("VOL001", { offsetBytes: 2 * TRACK, lengthBytes: 8 * TRACK }),
        store.write("VOL001", { offsetBytes: 0, data: whole }),
      ]);
      const track = await store.read("VOL001", { offsetBytes: 0, lengthBytes: TRACK });
      expect(track.equals(whole)).toBe(true);
      await device.drained();
    }
  });

  it("reopens with staged and uploaded segments, uploads what was staged, and reads all", async () => {
    const dir = tempDir();
    const objects = new MemoryObjectStore();
    const first = await openStore(dir, objects);
    await first.store.createVolume({ volser: "VOL001", cylinders: 1 });
    const data = pattern(12 * TRACK, 6);
    await first.store.write("VOL001", { offsetBytes: 0, data: data.subarray(0, 8 * TRACK) });
    await first.device.drained();
    objects.failPuts(1_000);
    await first.store.write("VOL001", { offsetBytes: 8 * TRACK, data: data.subarray(8 * TRACK) });
    await first.store.flush();
    await closeStore(first.store);
    objects.failPuts(0);
    const staged = fs.readdirSync(path.join(dir, "staging")).filter((n) => n.endsWith(".seg"));
    expect(staged.length).toBeGreaterThan(0);
    const second = await openStore(dir, objects);
    expect(
      (await second.store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(
        data,
      ),
    ).toBe(true);
    await second.device.drained();
    expect(fs.readdirSync(path.join(dir, "staging")).filter((n) => n.endsWith(".seg"))).toEqual([]);
    expect((await second.store.check()).problems).toEqual([]);
  });

  it("keeps a segment staged while its upload fails, and uploads it once the object store is back", async () => {
    const objects = new MemoryObjectStore();
    const { store, device } = await openStore(tempDir(), objects);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    objects.failPuts(1);
    const data = pattern(4 * TRACK, 7);
    await store.write("VOL001", { offsetBytes: 0, data });
    await device.drained();
    expect(device.stats().uploadFailures).toBe(1);
    expect(device.stats().stagedSegments).toBe(0);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
  });

  it("fails a read with OBJECT_STORE_UNAVAILABLE when the object store fails, and takes a partial write into the journal meanwhile", async () => {
    const objects = new MemoryObjectStore();
    const { store, device } = await openStore(tempDir(), objects);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    const data = pattern(4 * TRACK, 8);
    await store.write("VOL001", { offsetBytes: 0, data });
    await device.drained();
    objects.failGets(1_000);
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: 0, lengthBytes: TRACK }))).toBe(
      "OBJECT_STORE_UNAVAILABLE",
    );
    // A partial write needs no read now: the journal takes it.
    await store.write("VOL001", { offsetBytes: 10, data: Buffer.alloc(10, 9) });
    objects.failGets(0);
    Buffer.alloc(10, 9).copy(data, 10);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
    expect((await store.check()).problems).toEqual([]);
  });

  it("deletes a segment's object once the collector has moved its live chunks away", async () => {
    const objects = new MemoryObjectStore();
    const { store, device } = await openStore(tempDir(), objects);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    const data = pattern(8 * TRACK, 9);
    await store.write("VOL001", { offsetBytes: 0, data });
    await device.drained();
    const before = segmentObjects(objects);
    // Three of each four-track segment die: the rest is compacted out of the remote segments.
    for (const track of [0, 1, 2, 4, 5, 6]) {
      await store.zero("VOL001", { offsetBytes: track * TRACK, lengthBytes: TRACK });
    }
    const totals = await store.collectGarbage();
    expect(totals.chunksMoved).toBeGreaterThanOrEqual(2);
    await device.drained();
    // The deletions run in the background: wait for them, not for a fixed time.
    await vi.waitFor(() =>
      expect(segmentObjects(objects).filter((key) => before.includes(key))).toEqual([]),
    );
    data.fill(0, 0, 3 * TRACK);
    data.fill(0, 4 * TRACK, 7 * TRACK);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
    expect((await store.check()).problems).toEqual([]);
  });

  it("deletes at open the objects of segments the catalog does not know", async () => {
    const dir = tempDir();
    const objects = new MemoryObjectStore();
    const first = await openStore(dir, objects);
    await closeStore(first.store);
    objects.objects.set(segmentKey(77), Buffer.alloc(100));
    await openStore(dir, objects);
    await vi.waitFor(() => expect(objects.objects.has(segmentKey(77))).toBe(false));
  });

  it("lets only one of two stores starting at once claim an empty prefix", async () => {
    const objects = new MemoryObjectStore();
    const opened = await Promise.allSettled([
      openStore(tempDir(), objects),
      openStore(tempDir(), objects),
    ]);
    expect(opened.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const refused = opened.find((result) => result.status === "rejected");
    expect((refused as PromiseRejectedResult).reason).toMatchObject({
      code: "OBJECT_STORE_IN_USE",
    });
  });

  it("refuses a prefix that another store claimed with OBJECT_STORE_IN_USE", async () => {
    const objects = new MemoryObjectStore();
    await openStore(tempDir(), objects);
    expect(objects.objects.has(CLAIM_KEY)).toBe(true);
    expect(await codeOf(() => openStore(tempDir(), objects))).toBe("OBJECT_STORE_IN_USE");
  });
});

describe("object segment device claims", () => {
  it("refuses a prefix whose claim object is not JSON with OBJECT_STORE_IN_USE", async () => {
    const objects = new MemoryObjectStore();
    objects.objects.set(CLAIM_KEY, Buffer.from("not json"));
    const dir = tempDir();
    await expect(openStore(dir, objects)).rejects.toMatchObject({
      code: "OBJECT_STORE_IN_USE",
      message: expect.stringContaining(`its ${CLAIM_KEY} names no store id`),
    });
  });
});

describe("object segment device under the checker", () => {
  it("reports each chunk of a missing segment object, and still checks the chunks of the others", async () => {
    const objects = new MemoryObjectStore();
    const { store, device } = await openStore(tempDir(), objects);
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(10 * TRACK, 3) });
    await store.flush();
    await device.drained();
    const [lost] = segmentObjects(objects);
    objects.objects.delete(lost);
    const report = await store.check();
    expect(report.ok).toBe(false);
    expect(report.problems.length).toBeGreaterThan(0);
    expect(report.problems.length).toBeLessThan(10);
    for (const problem of report.problems) expect(problem).toMatch(/^chunk \d+ cannot be read: /);
    expect(report.checkedBytes).toBe((10 - report.problems.length) * TRACK);
  });
});
