import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { open as openLmdb } from "lmdb";
import { afterEach, describe, expect, it } from "vitest";
import { codeOfAsync as codeOf } from "../testing/error-code.js";
import { MemoryDevice } from "../testing/memory-device.js";
import { blockChecksums, chunkChecksum } from "./checksum.js";
import type { ChunkLocation } from "./chunk-device.js";
import { Store } from "./store.js";

const TRACK = 57_344;
const BLOCK = 4096;
const dirs: string[] = [];
const stores: Store[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-blocks-"));
  dirs.push(dir);
  return dir;
}

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) buffer[i] = (i * 29 + seed * 11 + 3) & 0xff;
  return buffer;
}

/** A memory device that counts the bytes read from it. */
class CountingDevice extends MemoryDevice {
  bytesRead = 0;

  override readMany(reads: readonly { location: ChunkLocation; target: Buffer }[]): void {
    for (const read of reads) this.bytesRead += read.location.lengthBytes;
    super.readMany(reads);
  }
}

async function storeOnCountingDevice(): Promise<{ store: Store; device: CountingDevice }> {
  const device = new CountingDevice({ committedSizes: new Map() });
  const store = await Store.open(tempDir(), { collectorIntervalMs: false, device: () => device });
  stores.push(store);
  await store.createVolume({ volser: "VOL001", cylinders: 2 });
  return { store, device };
}

/** Where byte `offsetBytes` of the first chunk appended lies (segment 1, after its header). */
function firstChunkByte(offsetBytes: number): ChunkLocation {
  return { segment: 1, offsetBytes: 32 + offsetBytes, lengthBytes: 1 };
}

describe("block checksums", () => {
  it("let a 4 KiB read of a track read only its block, and a whole-track read read the track", async () => {
    const { store, device } = await storeOnCountingDevice();
    const data = pattern(2 * TRACK, 1);
    await store.write("VOL001", { offsetBytes: 0, data });
    device.bytesRead = 0;
    const block = await store.read("VOL001", {
      offsetBytes: TRACK + 5 * BLOCK,
      lengthBytes: BLOCK,
    });
    expect(block.equals(data.subarray(TRACK + 5 * BLOCK, TRACK + 6 * BLOCK))).toBe(true);
    expect(device.bytesRead).toBe(BLOCK);
    device.bytesRead = 0;
    const both = await store.read("VOL001", { offsetBytes: 0, lengthBytes: 2 * TRACK });
    expect(both.equals(data)).toBe(true);
    expect(device.bytesRead).toBe(2 * TRACK);
  });

  it("read the blocks around a read that is not block-aligned, and give exactly its bytes", async () => {
    const { store, device } = await storeOnCountingDevice();
    const data = pattern(2 * TRACK, 2);
    await store.write("VOL001", { offsetBytes: 0, data });
    device.bytesRead = 0;
    // Bytes 100 to 5,099 of track 0 lie in blocks 0 and 1; the last 1,000 of track 0 and the
    // first 1,000 of track 1 in track 0's last block and track 1's first.
    const inner = await store.read("VOL001", { offsetBytes: 100, lengthBytes: 5000 });
    expect(inner.equals(data.subarray(100, 5100))).toBe(true);
    expect(device.bytesRead).toBe(2 * BLOCK);
    device.bytesRead = 0;
    const across = await store.read("VOL001", { offsetBytes: TRACK - 1000, lengthBytes: 2000 });
    expect(across.equals(data.subarray(TRACK - 1000, TRACK + 1000))).toBe(true);
    expect(device.bytesRead).toBe(2 * BLOCK);
  });

  it("catch a flipped byte in a read of its block or its track and in the checker; other blocks read", async () => {
    const { store, device } = await storeOnCountingDevice();
    const data = pattern(TRACK, 3);
    await store.write("VOL001", { offsetBytes: 0, data });
    device.corrupt(firstChunkByte(5 * BLOCK + 7));
    const read = (offsetBytes: number, lengthBytes: number) => () =>
      store.read("VOL001", { offsetBytes, lengthBytes });
    expect(await codeOf(read(5 * BLOCK, BLOCK))).toBe("CHUNK_CORRUPT");
    expect(await codeOf(read(5 * BLOCK + 7, 1))).toBe("CHUNK_CORRUPT");
    expect(await codeOf(read(4 * BLOCK, 3 * BLOCK))).toBe("CHUNK_CORRUPT");
    expect(await codeOf(read(0, TRACK))).toBe("CHUNK_CORRUPT");
    // Verification covers what is read: the blocks that hold no flipped byte are served.
    expect((await read(4 * BLOCK, BLOCK)()).equals(data.subarray(4 * BLOCK, 5 * BLOCK))).toBe(true);
    const report = await store.check();
    expect(report.problems).toEqual([
      "chunk 1 fails its checksum",
      "chunk 1 fails its block checksums",
    ]);
  });
});

describe("block checksums in the catalog", () => {
  /** A store written by this gsnap, then rewritten as format 1 left it: records of 32 bytes. */
  async function formatOneStore(data: Buffer): Promise<{ dir: string; location: ChunkLocation }> {
    const dir = tempDir();
    const store = await Store.open(dir, { collectorIntervalMs: false });
    await store.createVolume({ volser: "VOL001", cylinders: 2 });
    await store.write("VOL001", { offsetBytes: 0, data });
    await store.close();
    const env = openLmdb({ path: path.join(dir, "catalog"), maxDbs: 16 });
    const chunks = env.openDB<Buffer, number>("chunks", { encoding: "binary" });
    let location: ChunkLocation | undefined;
    await env.transaction(() => {
      for (const { key, value } of [...chunks.getRange({})]) {
        const record = Buffer.from(value.subarray(0, 32));
        expect(record[14]).toBe(12);
        record[14] = 0;
        chunks.putSync(key, record);
        location ??= {
          segment: record.readUInt32LE(0),
          offsetBytes: record.readUIntLE(8, 6),
          lengthBytes: record.readUInt32LE(16),
        };
      }
      env.openDB("meta", {}).putSync("format", { version: 1 });
    });
    await env.close();
    if (location === undefined) throw new Error("the store has a chunk");
    return { dir, location };
  }

  function formatVersion(dir: string): Promise<number> {
    const env = openLmdb({ path: path.join(dir, "catalog"), maxDbs: 16 });
    const version = (env.openDB("meta", {}).get("format") as { version: number }).version;
    return env.close().then(() => version);
  }

  it("open a format 1 store, read its chunks verified whole, and mark it format 2", async () => {
    const data = pattern(2 * TRACK, 4);
    const { dir } = await formatOneStore(data);
    const store = await Store.open(dir, { collectorIntervalMs: false });
    stores.push(store);
    const part = await store.read("VOL001", { offsetBytes: TRACK + BLOCK, lengthBytes: BLOCK });
    expect(part.equals(data.subarray(TRACK + BLOCK, TRACK + 2 * BLOCK))).toBe(true);
    // A new write beside old chunks: both kinds of record read back and pass the checker.
    await store.write("VOL001", { offsetBytes: 3 * BLOCK, data: pattern(BLOCK, 5) });
    data.set(pattern(BLOCK, 5), 3 * BLOCK);
    const all = await store.read("VOL001", { offsetBytes: 0, lengthBytes: 2 * TRACK });
    expect(all.equals(data)).toBe(true);
    expect((await store.check()).problems).toEqual([]);
    await store.close();
    expect(await formatVersion(dir)).toBe(2);
  });

  it("catch a flipped byte of a format 1 chunk with the whole track's checksum", async () => {
    const data = pattern(TRACK, 6);
    const { dir, location } = await formatOneStore(data);
    const segmentFile = path.join(
      dir,
      "segments",
      `${String(location.segment).padStart(8, "0")}.seg`,
    );
    const fd = fs.openSync(segmentFile, "r+");
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, location.offsetBytes + 9 * BLOCK);
    byte[0] ^= 0xff;
    fs.writeSync(fd, byte, 0, 1, location.offsetBytes + 9 * BLOCK);
    fs.closeSync(fd);
    const store = await Store.open(dir, { collectorIntervalMs: false });
    stores.push(store);
    // Without block checksums, a read of any part of the track reads and checks all of it.
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: 0, lengthBytes: BLOCK }))).toBe(
      "CHUNK_CORRUPT",
    );
  });

  it("catch block checksums that do not match the image in a read and in the checker", async () => {
    const data = pattern(TRACK, 7);
    const dir = tempDir();
    const first = await Store.open(dir, { collectorIntervalMs: false });
    await first.createVolume({ volser: "VOL001", cylinders: 2 });
    await first.write("VOL001", { offsetBytes: 0, data });
    await first.close();
    const env = openLmdb({ path: path.join(dir, "catalog"), maxDbs: 16 });
    const chunks = env.openDB<Buffer, number>("chunks", { encoding: "binary" });
    await env.transaction(() => {
      const record = Buffer.from(chunks.getBinary(1) as Buffer);
      record[32 + 4 * 2] ^= 0x01;
      chunks.putSync(1, record);
    });
    await env.close();
    const store = await Store.open(dir, { collectorIntervalMs: false });
    stores.push(store);
    expect(
      await codeOf(() => store.read("VOL001", { offsetBytes: 2 * BLOCK, lengthBytes: BLOCK })),
    ).toBe("CHUNK_CORRUPT");
    expect((await store.read("VOL001", { offsetBytes: 0, lengthBytes: TRACK })).equals(data)).toBe(
      true,
    );
    expect((await store.check()).problems).toEqual(["chunk 1 fails its block checksums"]);
  });

  it("store the block checksums a copy gives with a track as they are, and give them to the next copy", async () => {
    const { store, device } = await storeOnCountingDevice();
    await store.createVolume({ volser: "VOL002", cylinders: 2 });
    const data = pattern(TRACK, 8);
    // As a peer's batch brings them: the checksum verified the bytes, the sums come with it.
    const sums = blockChecksums(data);
    await store.writeTracks("VOL001", [
      { firstTrack: 3, tracks: [{ data, checksum: chunkChecksum(data), blockSums: sums }] },
    ]);
    const into = Buffer.alloc(TRACK);
    const read = await store.readTracks("VOL001", { runs: [{ firstTrack: 3, count: 1 }], into });
    expect(into.equals(data)).toBe(true);
    expect(read.checksums).toEqual([chunkChecksum(data)]);
    expect(read.blockSums[0]?.equals(sums)).toBe(true);
    device.bytesRead = 0;
    const block = await store.read("VOL001", {
      offsetBytes: 3 * TRACK + BLOCK,
      lengthBytes: BLOCK,
    });
    expect(block.equals(data.subarray(BLOCK, 2 * BLOCK))).toBe(true);
    expect(device.bytesRead).toBe(BLOCK);
    // Sums that are not the image's are stored as given (not hashed again): a block read finds
    // them wrong, while the whole track still verifies against its checksum.
    const wrong = Buffer.from(sums);
    wrong[4] ^= 0x01;
    await store.writeTracks("VOL002", [
      { firstTrack: 0, tracks: [{ data, checksum: chunkChecksum(data), blockSums: wrong }] },
    ]);
    expect(
      await codeOf(() => store.read("VOL002", { offsetBytes: BLOCK, lengthBytes: BLOCK })),
    ).toBe("CHUNK_CORRUPT");
    expect((await store.read("VOL002", { offsetBytes: 0, lengthBytes: TRACK })).equals(data)).toBe(
      true,
    );
  });
});
