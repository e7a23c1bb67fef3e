import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { open as openLmdb } from "lmdb";
import { afterEach, describe, expect, it } from "vitest";
import { parseExtentList } from "../geometry/address.js";
import type { ObjectStore } from "../objects/object-store.js";
import { codeOfAsync as codeOf } from "../testing/error-code.js";
import { MemoryDevice } from "../testing/memory-device.js";
import { MemoryObjectStore } from "../testing/memory-object-store.js";
import { objectStorePerDir, testObjectDevice } from "../testing/object-device.js";
import { s3Available, testObjectStore } from "../testing/s3-test-store.js";
import { chunkChecksum } from "./checksum.js";
import { type ChunkLocation, ChunkNotLocal } from "./chunk-device.js";
import { SegmentDevice } from "./segment-device.js";
import { Store, type StoreOptions } from "./store.js";

const TRACK = 57_344;
const dirs: string[] = [];
const stores: Store[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-store-"));
  dirs.push(dir);
  return dir;
}

async function openStore(dir: string, options: StoreOptions = {}): Promise<Store> {
  const store = await Store.open(dir, { collectorIntervalMs: false, ...options });
  stores.push(store);
  return store;
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

/**
 * A store whose chunks go to an object store (one per data dir, so a reopen finds its objects),
 * in segments of 8 tracks sealed at once, so that tests read uploaded segments back.
 */
function objectDevice(makeObjects: () => ObjectStore): StoreOptions["device"] {
  return testObjectDevice(objectStorePerDir(makeObjects), {
    segmentTracks: 8,
    trackBytes: TRACK,
    blockBytes: 65_536,
    cacheBytes: 2 * 1024 * 1024,
  }).device;
}

const devices: [string, StoreOptions][] = [
  ["segment files", {}],
  ["memory", { device: (committedSizes) => new MemoryDevice({ committedSizes }) }],
  ["an object store in memory", { device: objectDevice(() => new MemoryObjectStore()) }],
  ...(s3Available()
    ? [
        ["Ceph through S3", { device: objectDevice(() => testObjectStore()) }] as [
          string,
          StoreOptions,
        ],
      ]
    : []),
];

describe.each(devices)("store on %s", (_name, options) => {
  async function fresh(): Promise<Store> {
    const store = await openStore(tempDir(), options);
    await store.createVolume({ volser: "VOL001", model: "3390-1" });
    return store;
  }

  it("gives stored track checksums (0 for unmapped) and takes whole tracks with known checksums", async () => {
    const store = await fresh();
    const first = pattern(TRACK, 1);
    const second = pattern(TRACK, 2);
    await store.writeTracks("VOL001", [
      { firstTrack: 4, tracks: [{ data: first, checksum: chunkChecksum(first) }] },
      { firstTrack: 5, tracks: [{ data: second, checksum: chunkChecksum(second) }] },
      { firstTrack: 9, tracks: [{ data: second, checksum: chunkChecksum(second) }] },
    ]);
    await store.write("VOL001", { offsetBytes: 7 * TRACK + 10, data: pattern(100, 3) });
    const expected7 = chunkChecksum(
      await store.read("VOL001", { offsetBytes: 7 * TRACK, lengthBytes: TRACK }),
    );
    expect(await store.trackChecksums("VOL001", { firstTrack: 3, count: 5 })).toEqual([
      0n,
      chunkChecksum(first),
      chunkChecksum(second),
      0n,
      expected7,
    ]);
    expect(await store.trackChecksums("VOL001", { firstTrack: 9, count: 1 })).toEqual([
      chunkChecksum(second),
    ]);
    expect(
      (await store.read("VOL001", { offsetBytes: 5 * TRACK, lengthBytes: TRACK })).equals(second),
    ).toBe(true);
    const last = store.showVolume("VOL001").trackCount;
    expect(
      await codeOf(async () => store.trackChecksums("VOL001", { firstTrack: last, count: 1 })),
    ).toBe("IO_OUT_OF_RANGE");
    expect(
      await codeOf(() =>
        store.writeTracks("VOL001", [
          { firstTrack: 0, tracks: [{ data: pattern(4096, 1), checksum: 0n }] },
        ]),
      ),
    ).toBe("IO_OUT_OF_RANGE");
  });

  it("creates, lists and shows volumes with their geometry", async () => {
    const store = await fresh();
    await store.createVolume({ volser: "VOL002", cylinders: 10, ssid: "01a0" });
    expect(store.listVolumes().map((volume) => volume.volser)).toEqual(["VOL001", "VOL002"]);
    expect(store.showVolume("VOL002")).toMatchObject({
      model: "3390-A",
      cylinders: 10,
      ssid: "01A0",
      trackCount: 150,
      sizeBytes: 150 * TRACK,
      allocatedTracks: 0,
    });
  });

  it("refuses a duplicate VOLSER with VOLUME_EXISTS and keeps the first volume", async () => {
    const store = await fresh();
    await store.write("VOL001", { offsetBytes: 0, data: pattern(TRACK, 1) });
    expect(await codeOf(() => store.createVolume({ volser: "VOL001", cylinders: 5 }))).toBe(
      "VOLUME_EXISTS",
    );
    expect(store.showVolume("VOL001")).toMatchObject({ cylinders: 1_113, allocatedTracks: 1 });
  });

  it("refuses bad names and geometry before changing anything", async () => {
    const store = await fresh();
    expect(await codeOf(() => store.createVolume({ volser: "vol9" }))).toBe("VOLSER_INVALID");
    expect(await codeOf(() => store.createVolume({ volser: "VOL9", ssid: "XYZ" }))).toBe(
      "SSID_INVALID",
    );
    expect(await codeOf(() => store.createVolume({ volser: "VOL9", model: "3380" }))).toBe(
      "MODEL_UNKNOWN",
    );
    expect(store.listVolumes()).toHaveLength(1);
  });

  it("reads unmapped tracks as zeros and reads back any byte range written", async () => {
    const store = await fresh();
    expect(
      (await store.read("VOL001", { offsetBytes: 100, lengthBytes: 3 * TRACK })).equals(
        Buffer.alloc(3 * TRACK),
      ),
    ).toBe(true);
    const data = pattern(3 * TRACK + 1_000, 2);
    await store.write("VOL001", { offsetBytes: TRACK - 500, data });
    const back = await store.read("VOL001", { offsetBytes: TRACK - 500, lengthBytes: data.length });
    expect(back.equals(data)).toBe(true);
    const around = await store.read("VOL001", { offsetBytes: 0, lengthBytes: 5 * TRACK });
    expect(around.subarray(0, TRACK - 500).equals(Buffer.alloc(TRACK - 500))).toBe(true);
    expect(store.showVolume("VOL001").allocatedTracks).toBe(5);
    expect((await store.check()).problems).toEqual([]);
  });

  it("overlays a partial write on the rest of the track", async () => {
    const store = await fresh();
    const whole = pattern(TRACK, 3);
    await store.write("VOL001", { offsetBytes: 0, data: whole });
    await store.write("VOL001", { offsetBytes: 4_096, data: Buffer.alloc(10, 0xee) });
    const expected = Buffer.from(whole);
    expected.fill(0xee, 4_096, 4_106);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: TRACK })).equals(expected),
    ).toBe(true);
  });

  it("refuses I/O past the end with IO_OUT_OF_RANGE and writes nothing", async () => {
    const store = await fresh();
    const size = store.showVolume("VOL001").sizeBytes;
    expect(
      await codeOf(() => store.write("VOL001", { offsetBytes: size - 10, data: pattern(20, 1) })),
    ).toBe("IO_OUT_OF_RANGE");
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: size, lengthBytes: 1 }))).toBe(
      "IO_OUT_OF_RANGE",
    );
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: -1, lengthBytes: 1 }))).toBe(
      "IO_OUT_OF_RANGE",
    );
    expect(
      await codeOf(() => store.zero("VOL001", { offsetBytes: 0, lengthBytes: size + 1 })),
    ).toBe("IO_OUT_OF_RANGE");
    expect(store.showVolume("VOL001").allocatedTracks).toBe(0);
  });

  it("refuses I/O on a missing volume with VOLUME_NOT_FOUND", async () => {
    const store = await fresh();
    expect(await codeOf(() => store.read("NOPE", { offsetBytes: 0, lengthBytes: 1 }))).toBe(
      "VOLUME_NOT_FOUND",
    );
    expect(await codeOf(() => store.deleteVolume("NOPE"))).toBe("VOLUME_NOT_FOUND");
  });

  it("refuses writes to a read-only volume with VOLUME_READ_ONLY", async () => {
    const store = await fresh();
    await store.setReadOnly("VOL001", true);
    expect(
      await codeOf(() => store.write("VOL001", { offsetBytes: 0, data: pattern(10, 1) })),
    ).toBe("VOLUME_READ_ONLY");
    await store.setReadOnly("VOL001", false);
    await store.write("VOL001", { offsetBytes: 0, data: pattern(10, 1) });
  });

  it("unmaps whole tracks and zeroes partial ones when zeroing a range", async () => {
    const store = await fresh();
    await store.write("VOL001", { offsetBytes: 0, data: pattern(4 * TRACK, 4) });
    await store.zero("VOL001", { offsetBytes: TRACK / 2, lengthBytes: 2 * TRACK });
    const runs = store.allocation("VOL001", { firstTrack: 0, count: 4 });
    expect(runs).toEqual([
      { firstTrack: 0, count: 1, mapped: true },
      { firstTrack: 1, count: 1, mapped: false },
      { firstTrack: 2, count: 2, mapped: true },
    ]);
    const back = await store.read("VOL001", { offsetBytes: 0, lengthBytes: 4 * TRACK });
    const expected = pattern(4 * TRACK, 4).fill(0, TRACK / 2, TRACK / 2 + 2 * TRACK);
    expect(back.equals(expected)).toBe(true);
  });

  it("stores an all-zero track as unmapped", async () => {
    const store = await fresh();
    await store.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(2 * TRACK) });
    expect(store.showVolume("VOL001").allocatedTracks).toBe(0);
  });

  it("snaps share chunks until either volume is written", async () => {
    const store = await fresh();
    await store.createVolume({ volser: "VOL002", model: "3390-1" });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(20 * TRACK, 5) });
    const liveBefore = store.usage().liveBytes;
    const result = await store.snap({
      source: { volser: "VOL001", extents: parseExtentList("0.0-1112.14") },
      target: { volser: "VOL002" },
    });
    expect(result.tracks).toBe(1_113 * 15);
    expect(store.usage().liveBytes).toBe(liveBefore);
    expect(
      (await store.read("VOL002", { offsetBytes: 0, lengthBytes: 20 * TRACK })).equals(
        pattern(20 * TRACK, 5),
      ),
    ).toBe(true);
    await store.write("VOL002", { offsetBytes: 3 * TRACK, data: pattern(TRACK, 9) });
    expect(
      (await store.read("VOL001", { offsetBytes: 3 * TRACK, lengthBytes: TRACK })).equals(
        pattern(20 * TRACK, 5).subarray(3 * TRACK, 4 * TRACK),
      ),
    ).toBe(true);
    expect(store.usage().liveBytes).toBe(liveBefore + TRACK + 32);
    expect((await store.check()).problems).toEqual([]);
  });

  it("snaps an extent onto another extent and replaces what the target held there", async () => {
    const store = await fresh();
    await store.createVolume({ volser: "VOL002", model: "3390-1" });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(30 * TRACK, 6) });
    await store.write("VOL002", { offsetBytes: 0, data: pattern(200 * TRACK, 7) });
    await store.snap({
      source: { volser: "VOL001", extents: parseExtentList("0.0-1.14") },
      target: { volser: "VOL002", extents: parseExtentList("10.0-10.14+12.0-12.14") },
    });
    const at = (cylinder: number) => ({
      offsetBytes: cylinder * 15 * TRACK,
      lengthBytes: 15 * TRACK,
    });
    const source = pattern(30 * TRACK, 6);
    expect((await store.read("VOL002", at(10))).equals(source.subarray(0, 15 * TRACK))).toBe(true);
    expect(
      (await store.read("VOL002", at(12))).equals(source.subarray(15 * TRACK, 30 * TRACK)),
    ).toBe(true);
    const untouched = pattern(200 * TRACK, 7).subarray(11 * 15 * TRACK, 12 * 15 * TRACK);
    expect((await store.read("VOL002", at(11))).equals(untouched)).toBe(true);
    await store.collectGarbage();
    expect((await store.check()).problems).toEqual([]);
  });

  it("refuses bad snaps with their own codes and changes nothing", async () => {
    const store = await fresh();
    await store.createVolume({ volser: "VOL002", cylinders: 10 });
    await store.createVolume({ volser: "VOL003", cylinders: 10, trackSizeBytes: 8_192 });
    await store.write("VOL002", { offsetBytes: 0, data: pattern(TRACK, 8) });
    const snapCode = (source: string, target: string, targetExtents?: string) =>
      codeOf(() =>
        store.snap({
          source: { volser: "VOL001", extents: parseExtentList(source) },
          target: {
            volser: target,
            extents: targetExtents ? parseExtentList(targetExtents) : undefined,
          },
        }),
      );
    expect(await snapCode("0.0-0.14", "VOL002", "0.0-1.14")).toBe("EXTENT_SIZE_MISMATCH");
    expect(await snapCode("0.0-20.14", "VOL002")).toBe("CYLINDER_OUT_OF_RANGE");
    expect(await snapCode("0.0-1.14", "VOL001", "1.0-2.14")).toBe("EXTENTS_OVERLAP");
    expect(await snapCode("0.0-1.14", "VOL002", "3.0-3.14+3.5-4.4")).toBe("EXTENTS_OVERLAP");
    expect(await snapCode("0.0-0.14", "NOPE")).toBe("VOLUME_NOT_FOUND");
    expect(await snapCode("0.0-0.14", "VOL003")).toBe("TRACK_SIZE_MISMATCH");
    expect(
      (await store.read("VOL002", { offsetBytes: 0, lengthBytes: TRACK })).equals(
        pattern(TRACK, 8),
      ),
    ).toBe(true);
    await store.setReadOnly("VOL002", true);
    expect(await snapCode("0.0-0.14", "VOL002")).toBe("VOLUME_READ_ONLY");
  });

  it("snaps within one volume onto a non-overlapping extent", async () => {
    const store = await fresh();
    await store.write("VOL001", { offsetBytes: 0, data: pattern(15 * TRACK, 10) });
    await store.snap({
      source: { volser: "VOL001", extents: parseExtentList("0.0-0.14") },
      target: { volser: "VOL001", extents: parseExtentList("500.0-500.14") },
    });
    const back = await store.read("VOL001", {
      offsetBytes: 500 * 15 * TRACK,
      lengthBytes: 15 * TRACK,
    });
    expect(back.equals(pattern(15 * TRACK, 10))).toBe(true);
  });

  it("gives a deleted volume's space back through the collector", async () => {
    const store = await fresh();
    await store.write("VOL001", { offsetBytes: 0, data: pattern(40 * TRACK, 11) });
    expect(store.usage().liveBytes).toBe(40 * (TRACK + 32));
    await store.deleteVolume("VOL001");
    await store.collectGarbage();
    expect(store.usage().liveBytes).toBe(0);
    expect((await store.check()).problems).toEqual([]);
  });

  it("fails a write on a full device with NO_SPACE and keeps the old data", async () => {
    const device = new MemoryDevice({ committedSizes: new Map() });
    const store = await openStore(tempDir(), { device: () => device });
    await store.createVolume({ volser: "VOL001", cylinders: 2 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(TRACK, 12) });
    device.failAppends("NO_SPACE");
    expect(
      await codeOf(() => store.write("VOL001", { offsetBytes: 0, data: pattern(2 * TRACK, 13) })),
    ).toBe("NO_SPACE");
    device.failAppends("IO_ERROR");
    expect(
      await codeOf(() => store.write("VOL001", { offsetBytes: 0, data: pattern(TRACK, 13) })),
    ).toBe("IO_ERROR");
    device.failAppends(undefined);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: TRACK })).equals(
        pattern(TRACK, 12),
      ),
    ).toBe(true);
    expect(store.showVolume("VOL001").allocatedTracks).toBe(1);
    expect((await store.check()).problems).toEqual([]);
  });

  it("fails a write whose device write fails while earlier changes are still committing", async () => {
    const device = new MemoryDevice({ committedSizes: new Map() });
    const store = await openStore(tempDir(), { device: () => device });
    await store.createVolume({ volser: "VOL001", cylinders: 2 });
    const earlier = store.write("VOL001", { offsetBytes: 0, data: pattern(2 * TRACK, 17) });
    device.failAppends("NO_SPACE");
    const failing = store.write("VOL001", { offsetBytes: 2 * TRACK, data: pattern(TRACK, 18) });
    device.failAppends(undefined);
    const [first, second] = await Promise.allSettled([earlier, failing]);
    expect(first.status).toBe("fulfilled");
    expect(second.status === "rejected" && second.reason.code).toBe("NO_SPACE");
    expect(store.showVolume("VOL001").allocatedTracks).toBe(2);
  });

  it("fails a write whose volume is deleted and created anew with other tracks before it commits", async () => {
    const store = await fresh();
    // Both changes are queued before the write, which read the old volume when it was asked for.
    const deleted = store.deleteVolume("VOL001");
    const created = store.createVolume({ volser: "VOL001", cylinders: 2, trackSizeBytes: 8_192 });
    const write = store.write("VOL001", { offsetBytes: 0, data: pattern(2 * TRACK, 19) });
    const [, , outcome] = await Promise.allSettled([deleted, created, write]);
    expect(outcome.status === "rejected" && outcome.reason.code).toBe("VOLUME_NOT_FOUND");
    expect(store.showVolume("VOL001")).toMatchObject({ trackSizeBytes: 8_192, allocatedTracks: 0 });
  });

  it("fails a write whose volume is created anew smaller before it commits with IO_OUT_OF_RANGE", async () => {
    const store = await fresh();
    const last = store.showVolume("VOL001").trackCount - 2;
    const deleted = store.deleteVolume("VOL001");
    const created = store.createVolume({ volser: "VOL001", cylinders: 1 });
    const write = store.write("VOL001", {
      offsetBytes: last * TRACK,
      data: pattern(2 * TRACK, 20),
    });
    const [, , outcome] = await Promise.allSettled([deleted, created, write]);
    expect(outcome.status === "rejected" && outcome.reason.code).toBe("IO_OUT_OF_RANGE");
    expect(store.showVolume("VOL001")).toMatchObject({ cylinders: 1, allocatedTracks: 0 });
  });

  it("refuses a track write with a bad run after good ones and maps none of them", async () => {
    const store = await fresh();
    const data = pattern(TRACK, 21);
    const good = { firstTrack: 0, tracks: [{ data, checksum: chunkChecksum(data) }] };
    const bad = { firstTrack: 1, tracks: [{ data: pattern(100, 1), checksum: 0n }] };
    expect(await codeOf(() => store.writeTracks("VOL001", [good, good, bad]))).toBe(
      "IO_OUT_OF_RANGE",
    );
    expect(store.showVolume("VOL001").allocatedTracks).toBe(0);
  });

  it("reports a chunk that fails its checksum with CHUNK_CORRUPT, and the checker finds it", async () => {
    const device = new MemoryDevice({ committedSizes: new Map() });
    const store = await openStore(tempDir(), { device: () => device });
    await store.createVolume({ volser: "VOL001", cylinders: 2 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(TRACK, 14) });
    device.corrupt({ segment: 1, offsetBytes: 32 + 100, lengthBytes: 1 });
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: 0, lengthBytes: 10 }))).toBe(
      "CHUNK_CORRUPT",
    );
    const report = await store.check();
    expect(report.ok).toBe(false);
    expect(report.problems.join("\n")).toContain("fails its checksum");
  });

  it("refuses use after close with STORE_CLOSED", async () => {
    const store = await fresh();
    await store.close();
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: 0, lengthBytes: 1 }))).toBe(
      "STORE_CLOSED",
    );
  });
});

/**
 * A device that keeps its chunks "elsewhere": a synchronous read of a chunk succeeds only once
 * after a fetch of it, and the first `ignoredFetches` fetches are lost (as if the cache dropped
 * them before the change ran). Reads on the thread pool always succeed, as a remote device's do.
 */
class ForgetfulDevice extends MemoryDevice {
  override readonly remote = true;
  ignoredFetches = 0;
  notLocal = 0;
  private readonly fetched = new Set<string>();

  override readInto(location: ChunkLocation, target: Buffer, targetOffset: number): void {
    const key = `${location.segment}:${location.offsetBytes}`;
    if (!this.fetched.delete(key)) {
      this.notLocal += 1;
      throw new ChunkNotLocal([location]);
    }
    super.readInto(location, target, targetOffset);
  }

  override async fetch(locations: readonly ChunkLocation[]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.ignoredFetches > 0) {
      this.ignoredFetches -= 1;
      return;
    }
    for (const location of locations)
      this.fetched.add(`${location.segment}:${location.offsetBytes}`);
  }

  override async readManyAsync(reads: readonly { location: ChunkLocation; target: Buffer }[]) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const read of reads) super.readInto(read.location, read.target, 0);
  }
}

describe("store on a device whose chunks must be fetched", () => {
  async function forgetfulStore(): Promise<{ store: Store; device: ForgetfulDevice }> {
    let device: ForgetfulDevice | undefined;
    const store = await openStore(tempDir(), {
      device: (committedSizes) => {
        device = new ForgetfulDevice({ committedSizes });
        return device;
      },
    });
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(TRACK, 1) });
    return { store, device: device as ForgetfulDevice };
  }

  async function track0(store: Store): Promise<Buffer> {
    return store.read("VOL001", { offsetBytes: 0, lengthBytes: TRACK });
  }

  it("merges journaled partial writes into their track in order with the whole-track writes around them, reading it on the thread pool", async () => {
    const { store, device } = await forgetfulStore();
    const expected = pattern(TRACK, 1);
    Buffer.alloc(20, 0xcc).copy(expected, 10);
    const whole = pattern(TRACK, 2);
    await store.write("VOL001", { offsetBytes: 10, data: Buffer.alloc(20, 0xcc) });
    expect((await track0(store)).equals(expected)).toBe(true);
    expect((await store.check()).problems).toEqual([]);
    expect((await track0(store)).equals(expected)).toBe(true);
    // Asked first, landed first: the whole-track write after it wins.
    await Promise.all([
      store.write("VOL001", { offsetBytes: 100, data: Buffer.alloc(20, 0xdd) }),
      store.write("VOL001", { offsetBytes: 0, data: whole }),
    ]);
    expect((await track0(store)).equals(whole)).toBe(true);
    expect((await store.check()).problems).toEqual([]);
    expect((await track0(store)).equals(whole)).toBe(true);
    expect(device.notLocal).toBe(0);
  });

  it("compacts through background reads: a collector step never needs chunks at hand in its change", async () => {
    let device: ForgetfulDevice | undefined;
    const store = await openStore(tempDir(), {
      device: (committedSizes) => {
        device = new ForgetfulDevice({ committedSizes, maxSegmentBytes: 4 * TRACK });
        return device;
      },
    });
    await store.createVolume({ volser: "VOL001", cylinders: 1 });
    // Four tracks fill the first segment; three overwritten leave it mostly dead.
    const kept = pattern(TRACK, 5);
    await store.write("VOL001", { offsetBytes: 0, data: kept });
    await store.write("VOL001", { offsetBytes: TRACK, data: pattern(3 * TRACK, 6) });
    await store.write("VOL001", { offsetBytes: TRACK, data: pattern(3 * TRACK, 7) });
    // Fetches that bring nothing: a step that read its window inside its change would fail.
    (device as ForgetfulDevice).ignoredFetches = 100;
    const totals = await store.collectGarbage();
    expect(totals.chunksMoved).toBeGreaterThan(0);
    expect((device as ForgetfulDevice).notLocal).toBe(0);
    (device as ForgetfulDevice).ignoredFetches = 0;
    expect((await track0(store)).equals(kept)).toBe(true);
    expect((await store.check()).problems).toEqual([]);
  });
});

describe("store on segment files across restarts", () => {
  it("refuses with CHUNKS_ELSEWHERE to open over chunks kept elsewhere than asked", async () => {
    const local = tempDir();
    const first = await Store.open(local, { collectorIntervalMs: false });
    await first.createVolume({ volser: "VOL001", cylinders: 1 });
    await first.close();
    expect(await codeOf(() => openStore(local, { chunkHome: "s3://bucket/prefix/" }))).toBe(
      "CHUNKS_ELSEWHERE",
    );
    const remote = tempDir();
    const memory = {
      device: (committedSizes: Map<number, number>) => new MemoryDevice({ committedSizes }),
    };
    const second = await Store.open(remote, {
      collectorIntervalMs: false,
      chunkHome: "s3://b/p/",
      ...memory,
    });
    await second.close();
    expect(await codeOf(() => openStore(remote))).toBe("CHUNKS_ELSEWHERE");
    expect(await codeOf(() => openStore(remote, { chunkHome: "s3://b/other/", ...memory }))).toBe(
      "CHUNKS_ELSEWHERE",
    );
    expect(await codeOf(() => openStore(remote, { chunkHome: "s3://b/p/", ...memory }))).toBe(
      undefined,
    );
  });

  it("keeps volumes and data across a close and reopen", async () => {
    const dir = tempDir();
    const first = await Store.open(dir, { collectorIntervalMs: false });
    await first.createVolume({ volser: "VOL001", cylinders: 3 });
    await first.write("VOL001", { offsetBytes: 123, data: pattern(2 * TRACK, 15) });
    await first.close();
    const second = await openStore(dir);
    expect(
      (await second.read("VOL001", { offsetBytes: 123, lengthBytes: 2 * TRACK })).equals(
        pattern(2 * TRACK, 15),
      ),
    ).toBe(true);
    expect((await second.check()).problems).toEqual([]);
  });

  it("keeps a GSC intermediate's job across writes, snaps and a reopen, and forgets it with the volume", async () => {
    const dir = tempDir();
    const first = await Store.open(dir, { collectorIntervalMs: false });
    const job = { id: "J000007", serial: "0000000001" };
    expect((await first.createVolume({ volser: "#PUXY9", cylinders: 3, job })).job).toEqual(job);
    await first.createVolume({ volser: "VOL001", cylinders: 3 });
    await first.write("VOL001", { offsetBytes: 0, data: pattern(2 * TRACK, 17) });
    // The record is rewritten by a snap into it and by a write: the job stays.
    await first.snap({
      source: { volser: "VOL001", extents: parseExtentList("0.0-0.1") },
      target: { volser: "#PUXY9" },
    });
    await first.write("#PUXY9", { offsetBytes: 5 * TRACK, data: pattern(TRACK, 18) });
    await first.setReadOnly("#PUXY9", true);
    await first.close();
    const second = await openStore(dir);
    expect(second.showVolume("#PUXY9").job).toEqual(job);
    expect(second.listVolumes().map((volume) => [volume.volser, volume.job])).toEqual([
      ["#PUXY9", job],
      ["VOL001", undefined],
    ]);
    expect("job" in second.showVolume("VOL001")).toBe(false);
    await second.deleteVolume("#PUXY9");
    await second.createVolume({ volser: "#PUXY9", cylinders: 3 });
    expect(second.showVolume("#PUXY9").job).toBeUndefined();
    expect((await second.check()).problems).toEqual([]);
  });

  it("compacts mostly dead segments and deletes their files", async () => {
    const dir = tempDir();
    const store = await openStore(dir, {
      device: (committedSizes) =>
        new SegmentDevice(path.join(dir, "segments"), {
          committedSizes,
          maxSegmentBytes: 4 * (TRACK + 32),
        }),
    });
    await store.createVolume({ volser: "VOL001", cylinders: 2 });
    await store.write("VOL001", { offsetBytes: 0, data: pattern(20 * TRACK, 16) });
    const segmentsBefore = store.usage().segments;
    await store.zero("VOL001", { offsetBytes: 0, lengthBytes: 17 * TRACK });
    const totals = await store.collectGarbage();
    expect(totals.segmentsRemoved).toBeGreaterThan(0);
    expect(store.usage().segments).toBeLessThan(segmentsBefore);
    expect(store.usage().segmentBytes).toBeLessThanOrEqual(8 * (TRACK + 32));
    const files = fs.readdirSync(path.join(dir, "segments"));
    const diskBytes = files.reduce(
      (sum, name) => sum + fs.statSync(path.join(dir, "segments", name)).size,
      0,
    );
    expect(diskBytes).toBe(store.usage().segmentBytes);
    const back = await store.read("VOL001", { offsetBytes: 17 * TRACK, lengthBytes: 3 * TRACK });
    expect(back.equals(pattern(20 * TRACK, 16).subarray(17 * TRACK))).toBe(true);
    expect((await store.check()).problems).toEqual([]);
  });

  it("refuses a store another open store holds with STORE_LOCKED, naming its process", async () => {
    const dir = tempDir();
    const first = await Store.open(dir, { collectorIntervalMs: false });
    try {
      const error = await Store.open(dir).then(
        () => undefined,
        (failure: unknown) => failure as { code?: string; message?: string },
      );
      expect(error?.code).toBe("STORE_LOCKED");
      expect(error?.message).toContain(`process ${process.pid} has it open`);
    } finally {
      await first.close();
    }
    // Closed, it is free again.
    await (await Store.open(dir, { collectorIntervalMs: false })).close();
  });

  it("takes a store whose lock file names a live process that holds no lock (a pid reused after a crash or a reboot)", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "gsnap.lock"), `${process.ppid}\n`);
    const store = await Store.open(dir, { collectorIntervalMs: false });
    expect(fs.readFileSync(path.join(dir, "gsnap.lock"), "utf8").trim()).toBe(String(process.pid));
    await store.close();
  });

  it("refuses a catalog of another format version with STORE_FORMAT", async () => {
    const dir = tempDir();
    const env = openLmdb({ path: path.join(dir, "catalog"), maxDbs: 16 });
    env.openDB("meta", {}).putSync("format", { version: 99 });
    await env.close();
    expect(await codeOf(() => Store.open(dir))).toBe("STORE_FORMAT");
  });
});
