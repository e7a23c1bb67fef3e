// The store on a real full filesystem (a small tmpfs): a full disk is an error for the requests it
// concerns, never a crash; reads and the checker stay right; deleting a volume gives its space
// back; the store opens on a full disk. Vitest fails a run that leaves an unhandled rejection, so
// these tests also show that a failed catalog commit does not leave one behind.

import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { codeOfAsync as codeOf } from "../testing/error-code.js";
import {
  mountSkipReason,
  mountSmallFilesystem,
  type SmallFilesystem,
} from "../testing/small-filesystem.js";
import { SegmentDevice } from "./segment-device.js";
import { RESERVE_FILE } from "./space-reserve.js";
import { Store, type StoreOptions } from "./store.js";

const TRACK = 57_344;
const MIB = 1024 * 1024;
/** Writes of 8 tracks: big enough to fill a small disk quickly, small enough to fill it closely. */
const WRITE_TRACKS = 8;

const filesystems: SmallFilesystem[] = [];
const stores: Store[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => {});
  for (const filesystem of filesystems.splice(0)) filesystem.unmount();
});

function mount(sizeBytes: number, inodes?: number): SmallFilesystem {
  const filesystem = mountSmallFilesystem({ sizeBytes, inodes });
  filesystems.push(filesystem);
  return filesystem;
}

async function openStore(dir: string, options: StoreOptions = {}): Promise<Store> {
  const store = await Store.open(dir, { collectorIntervalMs: false, ...options });
  stores.push(store);
  return store;
}

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i += 8) buffer.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return buffer;
}

/**
 * Writes runs of WRITE_TRACKS tracks from track 0 on until the store says NO_SPACE; returns how
 * many writes it took, and the message of the one that failed.
 */
async function fillVolume(
  store: Store,
  volser: string,
  seed: number,
): Promise<{ writes: number; message: string }> {
  const capacity = store.showVolume(volser).trackCount;
  for (let writes = 0; (writes + 1) * WRITE_TRACKS <= capacity; writes += 1) {
    const data = pattern(WRITE_TRACKS * TRACK, seed + writes);
    try {
      await store.write(volser, { offsetBytes: writes * WRITE_TRACKS * TRACK, data });
    } catch (error) {
      expect((error as { code?: string }).code).toBe("NO_SPACE");
      return { writes, message: (error as Error).message };
    }
  }
  throw new Error(`volume ${volser} never filled the disk`);
}

async function expectWritten(store: Store, volser: string, writes: number, seed: number) {
  for (let i = 0; i < writes; i += 1) {
    const range = { offsetBytes: i * WRITE_TRACKS * TRACK, lengthBytes: WRITE_TRACKS * TRACK };
    expect((await store.read(volser, range)).equals(pattern(range.lengthBytes, seed + i))).toBe(
      true,
    );
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

describe.skipIf(mountSkipReason() !== "")(
  `the store on a full filesystem ${mountSkipReason()}`,
  () => {
    it("fails writes with NO_SPACE once the disk is full, keeps every acknowledged write readable, and the checker stays true", async () => {
      const filesystem = mount(24 * MIB);
      const store = await openStore(filesystem.dir, { reserveBytes: 2 * MIB });
      expect(fs.statSync(path.join(filesystem.dir, RESERVE_FILE)).size).toBe(2 * MIB);
      await store.createVolume({ volser: "VOL001", model: "3390-1" });
      const { writes, message } = await fillVolume(store, "VOL001", 1);
      expect(writes).toBeGreaterThan(10);
      expect(message).toMatch(/^Cannot append to segment \d+: the disk is full$/);
      // The failure gave the reserve to the collector and put the store in full mode.
      expect(store.usage().space).toBe("full");
      expect(fs.existsSync(path.join(filesystem.dir, RESERVE_FILE))).toBe(false);
      // New data is refused at once (the reserve is for the collector), from every path.
      const small = { offsetBytes: 0, data: Buffer.alloc(4096, 9) };
      expect(await codeOf(() => store.write("VOL001", small))).toBe("NO_SPACE");
      expect(await codeOf(() => store.createVolume({ volser: "VOL002", cylinders: 1 }))).toBe(
        "NO_SPACE",
      );
      expect(
        await codeOf(() =>
          store.snap({
            source: { volser: "VOL001", extents: [{ firstTrack: 0, lastTrack: 14 }] },
            target: { volser: "VOL001", extents: [{ firstTrack: 15, lastTrack: 29 }] },
          }),
        ),
      ).toBe("NO_SPACE");
      await expectWritten(store, "VOL001", writes, 1);
      // The failed appends left the device's sizes where the catalog has them: no false mismatch.
      const report = await store.check();
      expect(report.problems).toEqual([]);
      await store.flush();
    });

    it("gives a commit that fails for want of space NO_SPACE, stays readable, and commits again once there is room", async () => {
      const filesystem = mount(8 * MIB);
      const store = await openStore(filesystem.dir);
      await store.createVolume({ volser: "VOL001", cylinders: 2 });
      await store.write("VOL001", { offsetBytes: 0, data: pattern(4 * TRACK, 7) });
      await store.flush();
      const filler = filesystem.fill();
      // Each new volume takes catalog pages; LMDB needs new ones soon, and its commit fails.
      let failure: Error | undefined;
      for (let i = 0; i < 5_000 && failure === undefined; i += 1) {
        const volser = `V${String(i).padStart(5, "0")}`;
        await store.createVolume({ volser, cylinders: 1 }).catch((error: Error) => {
          failure = error;
        });
      }
      expect(failure?.message).toMatch(/^Cannot commit a change to the catalog: the disk is full/);
      expect((failure as { code?: string }).code).toBe("NO_SPACE");
      expect(store.usage().space).toBe("full");
      expect(
        (await store.read("VOL001", { offsetBytes: 0, lengthBytes: 4 * TRACK })).equals(
          pattern(4 * TRACK, 7),
        ),
      ).toBe(true);
      fs.rmSync(filler);
      // Room again: the next request finds it and the store leaves full mode.
      await store.createVolume({ volser: "AFTER", cylinders: 1 });
      expect(store.usage().space).toBe("room");
      await store.write("VOL001", { offsetBytes: 4 * TRACK, data: pattern(TRACK, 8) });
      expect((await store.check()).problems).toEqual([]);
      await store.flush();
    });

    it("gives a deleted volume's space back within seconds on a full disk, then takes writes again", async () => {
      const filesystem = mount(40 * MIB);
      const store = await openStore(filesystem.dir, {
        reserveBytes: 2 * MIB,
        collectorIntervalMs: 100,
      });
      await store.createVolume({ volser: "KEEP", cylinders: 2 });
      await store.createVolume({ volser: "BIG", model: "3390-1" });
      // A little data that stays, mixed into the same (active) segments as what goes.
      await store.write("KEEP", { offsetBytes: 0, data: pattern(8 * TRACK, 3) });
      const { writes } = await fillVolume(store, "BIG", 5);
      expect(store.usage().space).toBe("full");
      const freeBefore = filesystem.freeBytes();
      const bigBytes = writes * WRITE_TRACKS * TRACK;
      await store.deleteVolume("BIG");
      const tookMs = await waitFor(
        () =>
          filesystem.freeBytes() - freeBefore >= bigBytes * 0.9 && store.usage().space === "room",
        10_000,
      );
      expect(tookMs).toBeLessThan(10_000);
      // Every segment was active (appends went to all three lanes): the collector sealed them,
      // removed those only BIG had filled, and moved KEEP's 8 chunks out of the one they shared.
      expect(store.usage().collector).toMatchObject({ chunksMoved: 8, segmentsRemoved: 3 });
      // The reserve is back, and writes are taken again.
      expect(fs.statSync(path.join(filesystem.dir, RESERVE_FILE)).size).toBe(2 * MIB);
      await store.write("KEEP", { offsetBytes: 8 * TRACK, data: pattern(8 * TRACK, 4) });
      expect(
        (await store.read("KEEP", { offsetBytes: 0, lengthBytes: 8 * TRACK })).equals(
          pattern(8 * TRACK, 3),
        ),
      ).toBe(true);
      expect((await store.check()).problems).toEqual([]);
    });

    it("deletes a volume on a disk filled by something else, with the reserve's room", async () => {
      const filesystem = mount(24 * MIB);
      const store = await openStore(filesystem.dir, { reserveBytes: 2 * MIB });
      await store.createVolume({ volser: "VOL001", cylinders: 20 });
      await store.write("VOL001", { offsetBytes: 0, data: pattern(60 * TRACK, 2) });
      await store.flush();
      filesystem.fill();
      expect(store.usage().space).toBe("room");
      await store.deleteVolume("VOL001");
      // The delete's first commit found no page for the catalog: the reserve went, the delete ran
      // again, and the store is in full mode.
      expect(store.usage().space).toBe("full");
      expect(store.listVolumes()).toEqual([]);
      await store.collectGarbage();
      expect(store.usage().liveBytes).toBe(0);
      expect((await store.check()).problems).toEqual([]);
    });

    it("opens on a full disk, serves reads, and refuses writes until there is room", async () => {
      const filesystem = mount(32 * MIB);
      const first = await openStore(filesystem.dir, { reserveBytes: 2 * MIB });
      await first.createVolume({ volser: "VOL001", model: "3390-1" });
      const writes = 20;
      for (let i = 0; i < writes; i += 1) {
        const data = pattern(WRITE_TRACKS * TRACK, 11 + i);
        await first.write("VOL001", { offsetBytes: i * WRITE_TRACKS * TRACK, data });
      }
      // Something else fills the disk; the store's next write fails and gives up its reserve.
      const outsider = filesystem.fill("outsider");
      const late = { offsetBytes: writes * WRITE_TRACKS * TRACK, data: pattern(TRACK, 99) };
      expect(await codeOf(() => first.write("VOL001", late))).toBe("NO_SPACE");
      await first.close();
      const rest = filesystem.fill("rest");
      expect(filesystem.freeBytes()).toBe(0);
      // No room for the reserve, nor for a new block of the lock file: the store opens all the
      // same, in full mode.
      const store = await openStore(filesystem.dir, { reserveBytes: 2 * MIB });
      expect(store.usage().space).toBe("full");
      await expectWritten(store, "VOL001", writes, 11);
      expect(
        await codeOf(() => store.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(512, 1) })),
      ).toBe("NO_SPACE");
      expect((await store.check()).problems).toEqual([]);
      fs.rmSync(outsider);
      fs.rmSync(rest);
      await store.write("VOL001", { offsetBytes: 0, data: pattern(TRACK, 12) });
      expect(store.usage().space).toBe("room");
      expect(fs.statSync(path.join(filesystem.dir, RESERVE_FILE)).size).toBe(2 * MIB);
    });

    it("gives the reserve up to take the store lock on a full disk when the lock file is gone", async () => {
      const filesystem = mount(16 * MIB);
      const first = await openStore(filesystem.dir, { reserveBytes: 2 * MIB });
      await first.createVolume({ volser: "VOL001", cylinders: 2 });
      await first.write("VOL001", { offsetBytes: 0, data: pattern(4 * TRACK, 31) });
      await first.close();
      // An older gsnap deleted its lock file at close; the reserve is still whole.
      fs.rmSync(path.join(filesystem.dir, "gsnap.lock"));
      filesystem.fill();
      const store = await openStore(filesystem.dir, { reserveBytes: 2 * MIB });
      expect(store.usage().space).toBe("full");
      expect(fs.existsSync(path.join(filesystem.dir, RESERVE_FILE))).toBe(false);
      expect(fs.readFileSync(path.join(filesystem.dir, "gsnap.lock"), "utf8").trim()).toBe(
        String(process.pid),
      );
      expect(
        (await store.read("VOL001", { offsetBytes: 0, lengthBytes: 4 * TRACK })).equals(
          pattern(4 * TRACK, 31),
        ),
      ).toBe(true);
    });

    it("gives back the places an append took when no file can be made for its next segment", async () => {
      // Few inodes and small segments: a new segment soon finds no inode (ENOSPC at open(2)).
      const filesystem = mount(64 * MIB, 24);
      const device = (sizes: Map<number, number>, dataDir: string) =>
        new SegmentDevice(path.join(dataDir, "segments"), {
          committedSizes: sizes,
          maxSegmentBytes: 4 * WRITE_TRACKS * (TRACK + 32),
        });
      const store = await openStore(filesystem.dir, { device });
      await store.createVolume({ volser: "VOL001", model: "3390-1" });
      const { writes, message } = await fillVolume(store, "VOL001", 21);
      expect(writes).toBeGreaterThan(2);
      expect(message).toMatch(/^Cannot start segment \d+: the disk is full$/);
      await expectWritten(store, "VOL001", writes, 21);
      expect((await store.check()).problems).toEqual([]);
    });

    it("takes back a failed append's place and its bytes when nothing was placed after it", async () => {
      const filesystem = mount(4 * MIB);
      const device = new SegmentDevice(path.join(filesystem.dir, "segments"), {
        committedSizes: new Map(),
      });
      try {
        const image = (id: number) => ({ id, hash: 0n, data: pattern(TRACK, id) });
        let written = 0;
        let failure: unknown;
        for (let id = 1; failure === undefined; id += 1) {
          const { written: done } = device.appendAsync([image(id), image(id + 1000)]);
          await done.then(
            () => {
              written += 2;
            },
            (error: unknown) => {
              failure = error;
            },
          );
        }
        expect((failure as { code?: string }).code).toBe("NO_SPACE");
        // Appends rotate over three segments: together they hold what was written, no more.
        const expected = written * (TRACK + 32);
        const sizes = [...device.segmentSizes().values()];
        expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(expected);
        const dir = path.join(filesystem.dir, "segments");
        const files = fs.readdirSync(dir).map((name) => fs.statSync(path.join(dir, name)).size);
        expect(files.reduce((sum, size) => sum + size, 0)).toBe(expected);
      } finally {
        device.close();
      }
    });
  },
);
