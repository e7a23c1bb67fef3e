// Interop tests: the real NBD clients (qemu-img, qemu-io, nbdcopy, nbdinfo, nbdsh) against an
// NbdServer over a store in a temporary directory.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  missingNbdClientsNoticed,
  nbdcopy,
  nbdinfo,
  nbdinfoMap,
  nbdshScript,
  qemuImg,
  qemuIo,
} from "../testing/nbd-clients.js";
import { seededRandom } from "../testing/prng.js";
import { type ServedStore, serveStore } from "../testing/served-store.js";

const TRACK = 57_344;
const CYLINDERS = 20;
const VOLUME_BYTES = CYLINDERS * 15 * TRACK;

const missing = missingNbdClientsNoticed("NBD INTEROP TESTS");

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function served(): Promise<ServedStore> {
  const server = await serveStore({
    volumes: [
      { volser: "VOL001", cylinders: CYLINDERS },
      { volser: "VOL002", cylinders: CYLINDERS },
      { volser: "SMALL", cylinders: 1 },
    ],
  });
  cleanups.push(() => server.close());
  return server;
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-nbd-images-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Random bytes with every third MiB zero, so clients also see holes and zero runs. */
function image(length: number): Buffer {
  const bytes = randomBytes(length);
  const mib = 1024 * 1024;
  for (let offset = 0; offset < length; offset += 3 * mib) {
    bytes.fill(0, offset, Math.min(length, offset + mib));
  }
  return bytes;
}

async function volumeBytes(server: ServedStore, volser: string): Promise<Buffer> {
  const sizeBytes = server.store.showVolume(volser).sizeBytes;
  return server.store.read(volser, { offsetBytes: 0, lengthBytes: sizeBytes });
}

describe.skipIf(missing.length > 0)("NBD server with real clients", () => {
  it("takes a raw image in with qemu-img convert and gives it back bit for bit", async () => {
    const server = await served();
    const dir = tempDir();
    const data = image(VOLUME_BYTES);
    fs.writeFileSync(path.join(dir, "in.raw"), data);
    await qemuImg([
      "convert",
      "-n",
      "-f",
      "raw",
      "-O",
      "raw",
      path.join(dir, "in.raw"),
      server.uri("VOL001"),
    ]);
    expect((await volumeBytes(server, "VOL001")).equals(data)).toBe(true);
    await qemuImg([
      "convert",
      "-f",
      "raw",
      "-O",
      "raw",
      server.uri("VOL001"),
      path.join(dir, "out.raw"),
    ]);
    expect(fs.readFileSync(path.join(dir, "out.raw")).equals(data)).toBe(true);
  });

  it("copies both ways with nbdcopy over four connections, and volume to volume", async () => {
    const server = await served();
    const dir = tempDir();
    const data = image(VOLUME_BYTES);
    fs.writeFileSync(path.join(dir, "in.raw"), data);
    await nbdcopy(["--connections", "4", path.join(dir, "in.raw"), server.uri("VOL001")]);
    expect((await volumeBytes(server, "VOL001")).equals(data)).toBe(true);
    await nbdcopy(["--connections", "4", server.uri("VOL001"), path.join(dir, "out.raw")]);
    expect(fs.readFileSync(path.join(dir, "out.raw")).equals(data)).toBe(true);
    await nbdcopy(["--connections", "4", server.uri("VOL001"), server.uri("VOL002")]);
    expect((await volumeBytes(server, "VOL002")).equals(data)).toBe(true);
  });

  it("shows the same map in nbdinfo --map as the store's allocation", async () => {
    const server = await served();
    const trackCount = VOLUME_BYTES / TRACK;
    for (const track of [0, 2, 3, 4, 10, trackCount - 1]) {
      await server.store.write("VOL001", {
        offsetBytes: track * TRACK + 7,
        data: Buffer.from("x"),
      });
    }
    const runs = server.store.allocation("VOL001", { firstTrack: 0, count: trackCount });
    const expected = runs.map((run) => ({
      offset: run.firstTrack * TRACK,
      length: run.count * TRACK,
      type: run.mapped ? 0 : 3,
    }));
    expect(expected).toHaveLength(7);
    expect(await nbdinfoMap(server.uri("VOL001"))).toEqual(expected);
  });

  it("lists every volume with nbdinfo --list", async () => {
    const server = await served();
    const { stdout } = await nbdinfo(["--list", "--json", server.uri()]);
    const listing = JSON.parse(stdout) as {
      exports: { "export-name": string; "export-size": number; contexts: string[] }[];
    };
    expect(listing.exports.map((entry) => [entry["export-name"], entry["export-size"]])).toEqual([
      ["SMALL", 15 * TRACK],
      ["VOL001", VOLUME_BYTES],
      ["VOL002", VOLUME_BYTES],
    ]);
    expect(listing.exports[0].contexts).toContain("base:allocation");
  });

  it("agrees with an in-memory model after random qemu-io writes, zeroes and discards", async () => {
    const server = await served();
    const seed = Number(process.env.GSNAP_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`qemu-io model test seed: ${seed} (GSNAP_TEST_SEED=${seed} replays it)`);
    const random = seededRandom(seed);
    const model = Buffer.alloc(VOLUME_BYTES);
    const commands: string[] = [];
    for (let i = 0; i < 120; i += 1) {
      const length = 1 + Math.floor(random() * 3 * TRACK);
      const offset = Math.floor(random() * (VOLUME_BYTES - length));
      const kind = random();
      if (kind < 0.7) {
        const pattern = 1 + Math.floor(random() * 255);
        commands.push(`write -P ${pattern} ${offset} ${length}`);
        model.fill(pattern, offset, offset + length);
      } else if (kind < 0.85) {
        commands.push(`write -z ${offset} ${length}`);
        model.fill(0, offset, offset + length);
      } else {
        // Our discard zeroes (the store unmaps whole tracks and rewrites partial ones).
        commands.push(`discard ${offset} ${length}`);
        model.fill(0, offset, offset + length);
      }
    }
    commands.push("flush");
    // Reads through qemu-io of runs the model says hold one byte value.
    for (let i = 0; i < 40; i += 1) {
      const offset = Math.floor(random() * VOLUME_BYTES);
      let end = offset + 1;
      while (end < VOLUME_BYTES && end - offset < 65_536 && model[end] === model[offset]) end += 1;
      commands.push(`read -P ${model[offset]} ${offset} ${end - offset}`);
    }
    const args = ["-f", "raw", ...commands.flatMap((command) => ["-c", command])];
    const { stdout, stderr } = await qemuIo([...args, server.uri("VOL001")]);
    expect(`${stdout}${stderr}`).not.toMatch(/verification failed|error|failed/i);
    expect((await volumeBytes(server, "VOL001")).equals(model)).toBe(true);
  });

  it("reads and writes unaligned ranges across tracks with nbdsh", async () => {
    const server = await served();
    const { stdout } = await nbdshScript(
      server.uri("VOL001"),
      [
        "data = bytes((i * 7 + 3) & 255 for i in range(70000))",
        "h.pwrite(data, 12345)",
        "assert h.pread(70000, 12345) == data",
        "print(h.pread(10, 12340).hex())",
      ].join("\n"),
    );
    expect(stdout.trim()).toBe(`0000000000${Buffer.from([3, 10, 17, 24, 31]).toString("hex")}`);
    const expected = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7 + 3) & 255));
    const stored = await server.store.read("VOL001", { offsetBytes: 12345, lengthBytes: 70000 });
    expect(stored.equals(expected)).toBe(true);
  });

  it("refuses I/O past the end with EINVAL and changes nothing", async () => {
    const server = await served();
    const { stdout } = await nbdshScript(
      server.uri("SMALL"),
      [
        "size = h.get_size()",
        "attempts = [",
        "  lambda: h.pread(100, size - 50),",
        "  lambda: h.pwrite(b'x' * 100, size - 50),",
        "  lambda: h.trim(100, size - 50),",
        "  lambda: h.zero(100, size - 50),",
        "  lambda: h.pread(1, size),",
        "]",
        "for attempt in attempts:",
        "  try:",
        "    attempt()",
        "    print('ok')",
        "  except nbd.Error as error:",
        "    print(error.errno)",
      ].join("\n"),
    );
    expect(stdout.trim().split("\n")).toEqual(Array(5).fill("EINVAL"));
    expect(server.store.showVolume("SMALL").allocatedTracks).toBe(0);
  });

  it("flushes on NBD_CMD_FLUSH and before replying to a FUA write", async () => {
    const server = await served();
    const flush = vi.spyOn(server.store, "flush");
    await nbdshScript(
      server.uri("VOL001"),
      [
        "h.pwrite(b'a' * 4096, 0, nbd.CMD_FLAG_FUA)",
        "h.pwrite(b'b' * 4096, 4096)",
        "h.flush()",
      ].join("\n"),
    );
    expect(flush).toHaveBeenCalledTimes(2);
    const stored = await server.store.read("VOL001", { offsetBytes: 0, lengthBytes: 8192 });
    expect(stored.equals(Buffer.concat([Buffer.alloc(4096, "a"), Buffer.alloc(4096, "b")]))).toBe(
      true,
    );
  });

  it("reads zeros after a trim and gives whole tracks back", async () => {
    const server = await served();
    const { stdout } = await nbdshScript(
      server.uri("VOL001"),
      [
        `h.pwrite(b'\\xff' * ${3 * TRACK}, 0)`,
        `h.trim(${TRACK + 100}, ${TRACK - 100})`,
        `data = h.pread(${3 * TRACK}, 0)`,
        `print(data[:${TRACK - 100}] == b'\\xff' * ${TRACK - 100})`,
        `print(data[${TRACK - 100}:${2 * TRACK}] == bytes(${TRACK + 100}))`,
        `print(data[${2 * TRACK}:] == b'\\xff' * ${TRACK})`,
      ].join("\n"),
    );
    expect(stdout.trim().split("\n")).toEqual(["True", "True", "True"]);
    expect(server.store.allocation("VOL001", { firstTrack: 0, count: 3 })).toEqual([
      { firstTrack: 0, count: 1, mapped: true },
      { firstTrack: 1, count: 1, mapped: false },
      { firstTrack: 2, count: 1, mapped: true },
    ]);
  });

  it("writes zeroes with and without NO_HOLE", async () => {
    const server = await served();
    const { stdout } = await nbdshScript(
      server.uri("VOL001"),
      [
        `h.pwrite(b'\\x01' * ${4 * TRACK}, 0)`,
        `h.zero(${TRACK}, 0)`,
        `h.zero(${TRACK + 10}, ${2 * TRACK}, nbd.CMD_FLAG_NO_HOLE)`,
        `data = h.pread(${4 * TRACK}, 0)`,
        `print(data[:${TRACK}] == bytes(${TRACK}), data[${TRACK}:${2 * TRACK}] == b'\\x01' * ${TRACK})`,
        `print(data[${2 * TRACK}:${3 * TRACK + 10}] == bytes(${TRACK + 10}))`,
        `print(data[${3 * TRACK + 10}:] == b'\\x01' * ${TRACK - 10})`,
      ].join("\n"),
    );
    expect(stdout.trim().split("\n")).toEqual(["True True", "True", "True"]);
  });

  it("reports block status at track granularity and honours REQ_ONE", async () => {
    const server = await served();
    await server.store.write("VOL001", { offsetBytes: 2 * TRACK, data: Buffer.alloc(TRACK, 1) });
    const { stdout } = await nbdshScript(
      server.uri("VOL001"),
      [
        "seen = []",
        "def extents(context, offset, entries, error):",
        "  seen.append(list(entries))",
        "  return 0",
        `h.block_status(${3 * TRACK}, 100, extents)`,
        `h.block_status(${3 * TRACK}, 100, extents, nbd.CMD_FLAG_REQ_ONE)`,
        "print(seen)",
      ].join("\n"),
    );
    const all = [2 * TRACK - 100, 3, TRACK, 0, 100, 3];
    expect(stdout.trim()).toBe(`[[${all.join(", ")}], [${2 * TRACK - 100}, 3]]`);
  });

  it("refuses writes to a read-only volume with EPERM and still reads it", async () => {
    const server = await served();
    await server.store.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(100, 9) });
    await server.store.setReadOnly("VOL001", true);
    const { stdout } = await nbdshScript(
      server.uri("VOL001"),
      [
        "print(h.is_read_only(), h.can_trim(), h.can_zero())",
        "for attempt in [lambda: h.pwrite(b'x', 0), lambda: h.trim(10, 0), lambda: h.zero(10, 0)]:",
        "  try:",
        "    attempt()",
        "    print('ok')",
        "  except nbd.Error as error:",
        "    print(error.errno)",
        "print(h.pread(3, 0).hex())",
      ].join("\n"),
    );
    expect(stdout.trim().split("\n")).toEqual([
      "True False False",
      "EPERM",
      "EPERM",
      "EPERM",
      "090909",
    ]);
  });
});
