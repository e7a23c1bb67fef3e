import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryDevice } from "../testing/memory-device.js";
import { chunkChecksum } from "./checksum.js";
import { CHUNK_HEADER_BYTES, type ChunkDevice } from "./chunk-device.js";
import { SegmentDevice } from "./segment-device.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

type MakeDevice = (committedSizes: Map<number, number>, maxSegmentBytes: number) => ChunkDevice;

const segmentDevice = (): MakeDevice => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-device-"));
  dirs.push(dir);
  return (committedSizes, maxSegmentBytes) =>
    new SegmentDevice(dir, { committedSizes, maxSegmentBytes });
};
const memoryDevice = (): MakeDevice => (committedSizes, maxSegmentBytes) =>
  new MemoryDevice({ committedSizes, maxSegmentBytes });

function image(id: number, length = 8_192) {
  const data = Buffer.alloc(length, id & 0xff);
  data.writeUInt32LE(id, 0);
  return { id, hash: chunkChecksum(data), data };
}

describe.each([
  ["segment files", segmentDevice],
  ["memory", memoryDevice],
])("chunk device contract: %s", (_name, factory) => {
  it("reads back what it appended, one at a time and many at once", () => {
    const device = factory()(new Map(), 1 << 20);
    const images = [1, 2, 3, 4].map((id) => image(id));
    const locations = device.append(images);
    const target = Buffer.alloc(8_192);
    device.readInto(locations[2], target, 0);
    expect(target.equals(images[2].data)).toBe(true);
    const reads = locations.map((location) => ({
      location,
      target: Buffer.alloc(location.lengthBytes),
    }));
    device.readMany(reads);
    expect(reads.map((read) => read.target)).toEqual(images.map((item) => item.data));
  });

  it("starts a new segment when the active one would pass its maximum", () => {
    const device = factory()(new Map(), 3 * (8_192 + CHUNK_HEADER_BYTES));
    const locations = device.append([1, 2, 3, 4, 5].map((id) => image(id)));
    expect(locations.map((location) => location.segment)).toEqual([1, 1, 1, 2, 2]);
    expect(device.isActive(2)).toBe(true);
    expect(device.isActive(1)).toBe(false);
  });

  it("scans a segment's record headers in order", () => {
    const device = factory()(new Map(), 1 << 20);
    const locations = device.append([7, 8, 9].map((id) => image(id)));
    const found = device.scan(1, { fromOffsetBytes: 0, maxBytes: 1 << 20 });
    expect(found.map((chunk) => chunk.id)).toEqual([7, 8, 9]);
    expect(found.map((chunk) => chunk.location)).toEqual(locations);
    expect(device.scan(1, { fromOffsetBytes: 0, maxBytes: 0 })).toHaveLength(1);
  });

  it("reserves places at once for background appends and reads them back once written", async () => {
    const device = factory()(new Map(), 2 * (8_192 + CHUNK_HEADER_BYTES));
    device.append([image(1)]);
    const { locations, written } = device.appendAsync([2, 3, 4].map((id) => image(id)));
    const segments = locations.map((location) => location.segment);
    expect(new Set(segments).size).toBe(2);
    expect(segments[0] === segments[1] || segments[1] === segments[2]).toBe(true);
    // The next append does not land on the reserved places, even before they are written.
    const [after] = device.append([image(5)]);
    expect(locations.map((location) => location.segment)).not.toContain(after.segment);
    await written;
    expect(device.isBusy(2)).toBe(false);
    const target = Buffer.alloc(8_192);
    device.readInto(locations[2], target, 0);
    expect(target.equals(image(4).data)).toBe(true);
  });

  it("removes a segment", () => {
    const device = factory()(new Map(), 8_192 + CHUNK_HEADER_BYTES);
    device.append([image(1), image(2)]);
    device.removeSegment(1);
    expect([...device.segmentSizes().keys()]).toEqual([2]);
  });
});

describe("segment files on reopen", () => {
  it("cut each segment back to its committed size and delete unknown ones", async () => {
    const make = segmentDevice();
    const first = make(new Map(), 2 * (8_192 + CHUNK_HEADER_BYTES));
    first.append([1, 2, 3].map((id) => image(id)));
    await first.sync();
    first.close();
    const committed = new Map([[1, 8_192 + CHUNK_HEADER_BYTES]]);
    const second = make(committed, 2 * (8_192 + CHUNK_HEADER_BYTES));
    expect(second.segmentSizes()).toEqual(committed);
    const dir = dirs.at(-1) as string;
    expect(fs.readdirSync(dir)).toEqual(["00000001.seg"]);
    expect(fs.statSync(path.join(dir, "00000001.seg")).size).toBe(8_192 + CHUNK_HEADER_BYTES);
    second.close();
  });
});

describe("segment files under background reads", () => {
  it("remove a segment only once the reads under way in it are done", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-device-"));
    dirs.push(dir);
    // Every read on the thread pool: a read on the main thread is done before anything can run.
    const device = new SegmentDevice(dir, {
      committedSizes: new Map(),
      maxSegmentBytes: 8_192 + CHUNK_HEADER_BYTES,
      syncReadMaxBytes: 0,
    });
    const [first] = device.append([image(1), image(2)]);
    const target = Buffer.alloc(8_192);
    const reading = device.readManyAsync([{ location: first, target }]);
    expect(device.isBusy(first.segment)).toBe(true);
    device.removeSegment(first.segment);
    expect(device.segmentSizes().has(first.segment)).toBe(true);
    await reading;
    expect(target.equals(image(1).data)).toBe(true);
    expect(device.segmentSizes().has(first.segment)).toBe(false);
    device.close();
  });
});

describe("segment file reads on the main thread", () => {
  it("read a small chunk from the page cache before the call returns, a large one on the pool", async () => {
    const device = segmentDevice()(new Map(), 1 << 20) as SegmentDevice;
    const [small, large] = device.append([image(1), image(2, 512 * 1024)]);
    const smallTarget = Buffer.alloc(8_192);
    const smallRead = device.readManyAsync([{ location: small, target: smallTarget }]);
    expect(smallTarget.equals(image(1).data)).toBe(true);
    expect(device.syncReads.syncReads).toBe(1);
    await smallRead;
    const largeTarget = Buffer.alloc(512 * 1024);
    const largeRead = device.readManyAsync([{ location: large, target: largeTarget }]);
    expect(device.isBusy(large.segment)).toBe(true);
    await largeRead;
    expect(largeTarget.equals(image(2, 512 * 1024).data)).toBe(true);
    expect(device.syncReads.syncReads).toBe(1);
    device.close();
  });
});

describe("segment file syncs", () => {
  const original = fs.fdatasync;
  afterEach(() => {
    fs.fdatasync = original;
  });

  it("resolve a sync asked while another runs only after the earlier one's writeback", async () => {
    const device = segmentDevice()(new Map(), 1 << 20);
    const ended: string[] = [];
    let calls = 0;
    fs.fdatasync = ((_fd: number, callback: (error: Error | null) => void) => {
      calls += 1;
      const call = calls;
      // The first writeback is slow; the second, fast, would overtake it unless syncs are ordered.
      setTimeout(
        () => {
          ended.push(`fdatasync ${call}`);
          callback(null);
        },
        call === 1 ? 100 : 0,
      );
    }) as typeof fs.fdatasync;
    device.append([image(1)]);
    const first = device.sync().then(() => ended.push("first sync"));
    // The first writeback is under way when the second append comes.
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    device.append([image(2)]);
    const second = device.sync().then(() => ended.push("second sync"));
    await Promise.all([first, second]);
    expect(ended).toEqual(["fdatasync 1", "first sync", "fdatasync 2", "second sync"]);
  });

  it("fail with IO_ERROR when the writeback fails, and sync those segments again at the next barrier", async () => {
    const device = segmentDevice()(new Map(), 1 << 20);
    let failing = true;
    let calls = 0;
    fs.fdatasync = ((_fd: number, callback: (error: Error | null) => void) => {
      calls += 1;
      const error = Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
      setImmediate(() => callback(failing ? error : null));
    }) as typeof fs.fdatasync;
    device.append([image(1)]);
    await expect(device.sync()).rejects.toMatchObject({ code: "IO_ERROR" });
    failing = false;
    await device.sync();
    expect(calls).toBe(2);
    // Nothing was appended since: the next barrier has nothing to write back.
    await device.sync();
    expect(calls).toBe(2);
  });
});
