// The server at the byte level, through a bare client: simple replies, errnos, many requests in
// flight, ordering, the observer, and shutdown.

import { afterEach, describe, expect, it, vi } from "vitest";
import { GsnapError } from "../errors/gsnap-error.js";
import { MemoryDevice } from "../testing/memory-device.js";
import { RawNbdClient } from "../testing/nbd-raw-client.js";
import { type ServedStore, serveStore } from "../testing/served-store.js";
import { MAX_IN_FLIGHT_REQUESTS } from "./connection.js";
import { Errno } from "./errno.js";
import {
  ClientFlag,
  Command,
  CommandFlag,
  Option,
  ReplyType,
  TransmissionFlag,
} from "./protocol.js";
import { decodeErrorPayload } from "./transmission-codec.js";

const TRACK = 57_344;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function served(options: Parameters<typeof serveStore>[0] = {}): Promise<ServedStore> {
  const server = await serveStore({
    volumes: [
      { volser: "VOL001", cylinders: 2 },
      { volser: "VOL002", cylinders: 2 },
    ],
    ...options,
  });
  cleanups.push(() => server.close());
  return server;
}

async function client(server: ServedStore): Promise<RawNbdClient> {
  const raw = await RawNbdClient.connect(server.address);
  cleanups.push(() => raw.destroy());
  return raw;
}

describe("NBD server protocol", () => {
  it("answers with simple replies when structured replies were not negotiated", async () => {
    const server = await served();
    await server.store.write("VOL001", { offsetBytes: 10, data: Buffer.from("hello") });
    const raw = await client(server);
    const { sizeBytes, flags } = await raw.open("VOL001", { structured: false });
    expect(sizeBytes).toBe(30 * TRACK);
    expect(flags & TransmissionFlag.SEND_DF).toBe(0);
    raw.send({ type: Command.READ, offsetBytes: 8, lengthBytes: 9 });
    const ok = await raw.reply();
    expect(ok.error).toBe(0);
    expect(ok.data?.toString("latin1")).toBe("\0\0hello\0\0");
    raw.send({ type: Command.READ, offsetBytes: sizeBytes, lengthBytes: 1 });
    const refused = await raw.reply();
    expect(refused.error).toBe(Errno.EINVAL);
    expect(refused.data).toBeUndefined();
    raw.send({ type: Command.READ, offsetBytes: 0, lengthBytes: 2 });
    expect((await raw.reply()).data).toEqual(Buffer.alloc(2));
  });

  it("sends errors as error chunks with a message when structured replies are on", async () => {
    const server = await served();
    const raw = await client(server);
    const { sizeBytes } = await raw.open("VOL001");
    raw.send({ type: Command.READ, offsetBytes: sizeBytes - 1, lengthBytes: 2 });
    const reply = await raw.reply();
    expect(reply.error).toBe(Errno.EINVAL);
    expect(reply.chunks[0].type).toBe(ReplyType.ERROR);
    const payload = decodeErrorPayload(reply.chunks[0].payload);
    expect(payload.ok && payload.value.message).toMatch(/^Cannot read 2 bytes at offset/);
  });

  it("refuses an unknown command, unknown flags and block status without a context", async () => {
    const server = await served();
    const raw = await client(server);
    await raw.open("VOL001", { allocation: false });
    const unknown = raw.send({ type: Command.CACHE, lengthBytes: 512 });
    const badFlags = raw.send({ type: Command.READ, flags: 0x80, lengthBytes: 512 });
    const status = raw.send({ type: Command.BLOCK_STATUS, lengthBytes: 512 });
    const good = raw.send({ type: Command.READ, flags: CommandFlag.FUA, lengthBytes: 512 });
    const replies = await raw.replies(4);
    expect(replies.get(unknown)?.error).toBe(Errno.EINVAL);
    expect(replies.get(badFlags)?.error).toBe(Errno.EINVAL);
    expect(replies.get(status)?.error).toBe(Errno.EINVAL);
    expect(replies.get(good)?.error).toBe(0);
  });

  it("maps a full store to ENOSPC and a failing disk to EIO", async () => {
    let device: MemoryDevice | undefined;
    const server = await served({
      store: {
        device: (committedSizes) => {
          device = new MemoryDevice({ committedSizes });
          return device;
        },
      },
    });
    const raw = await client(server);
    await raw.open("VOL001");
    // Whole-track writes go to the chunk device (smaller ones to the journal).
    device?.failAppends("NO_SPACE");
    raw.send({ type: Command.WRITE }, Buffer.alloc(TRACK, 1));
    expect((await raw.reply()).error).toBe(Errno.ENOSPC);
    device?.failAppends("IO_ERROR");
    raw.send({ type: Command.WRITE }, Buffer.alloc(TRACK, 1));
    expect((await raw.reply()).error).toBe(Errno.EIO);
    device?.failAppends(undefined);
    raw.send({ type: Command.WRITE }, Buffer.alloc(TRACK, 1));
    expect((await raw.reply()).error).toBe(0);
  });

  it("maps an unexpected store failure to EIO and logs it once", async () => {
    const warn = vi.fn();
    const server = await served({ logger: { info: () => {}, warn } });
    vi.spyOn(server.store, "read").mockRejectedValue(new Error("boom"));
    vi.spyOn(server.store, "zero").mockRejectedValue(
      new GsnapError("VOLUME_READ_ONLY", "Cannot zero: it became read-only"),
    );
    const raw = await client(server);
    await raw.open("VOL001");
    raw.send({ type: Command.READ, lengthBytes: 10 });
    expect((await raw.reply()).error).toBe(Errno.EIO);
    raw.send({ type: Command.TRIM, lengthBytes: 10 });
    expect((await raw.reply()).error).toBe(Errno.EPERM);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it("answers far more requests than it keeps in flight, each once", async () => {
    const server = await served();
    const raw = await client(server);
    await raw.open("VOL001");
    const handles = new Set<bigint>();
    const count = 4 * MAX_IN_FLIGHT_REQUESTS;
    for (let i = 0; i < count; i += 1) {
      const offsetBytes = (i * 4099) % (20 * TRACK);
      if (i % 2 === 0)
        handles.add(raw.send({ type: Command.WRITE, offsetBytes }, Buffer.alloc(5000, i)));
      else handles.add(raw.send({ type: Command.READ, offsetBytes, lengthBytes: 5000 }));
    }
    const replies = await raw.replies(count);
    expect([...replies.keys()].sort()).toEqual([...handles].sort());
    expect([...replies.values()].every((reply) => reply.error === 0)).toBe(true);
  });

  it("lands overlapping writes in the order they were sent, merged or not", async () => {
    const server = await served();
    const raw = await client(server);
    await raw.open("VOL001");
    for (let i = 1; i <= 99; i += 1) {
      // Whole-range and partial writes, all overlapping; the last two are 98 (whole) and 99.
      const offsetBytes = i % 3 === 0 ? TRACK - 1000 : 0;
      const length = i % 3 === 0 ? 3000 : 2 * TRACK;
      raw.send({ type: Command.WRITE, offsetBytes }, Buffer.alloc(length, i));
    }
    raw.send({ type: Command.WRITE, offsetBytes: 100 }, Buffer.alloc(10, 200));
    // A sequential run (merged into one store write) that a later write overlaps.
    const end = 2 * TRACK;
    raw.send({ type: Command.WRITE, offsetBytes: end }, Buffer.alloc(5000, 201));
    raw.send({ type: Command.WRITE, offsetBytes: end + 5000 }, Buffer.alloc(5000, 202));
    raw.send({ type: Command.WRITE, offsetBytes: end + 10000 }, Buffer.alloc(5000, 203));
    raw.send({ type: Command.WRITE, offsetBytes: end + 2000 }, Buffer.alloc(10000, 204));
    const replies = await raw.replies(104);
    expect([...replies.values()].every((reply) => reply.error === 0)).toBe(true);
    const expected = Buffer.alloc(end + 15000, 98);
    expected.fill(99, TRACK - 1000, TRACK + 2000);
    expected.fill(200, 100, 110);
    expected.fill(201, end, end + 2000);
    expected.fill(204, end + 2000, end + 12000);
    expected.fill(203, end + 12000, end + 15000);
    const stored = await server.store.read("VOL001", { offsetBytes: 0, lengthBytes: end + 15000 });
    expect(stored.equals(expected)).toBe(true);
  });

  it("reports each command to the observer once, with its bytes and outcome", async () => {
    const request = vi.fn();
    const server = await served({ observer: { request } });
    const raw = await client(server);
    const { sizeBytes } = await raw.open("VOL001");
    raw.send({ type: Command.WRITE, offsetBytes: 0 }, Buffer.alloc(4096, 1));
    raw.send({ type: Command.READ, offsetBytes: 0, lengthBytes: 1000 });
    raw.send({ type: Command.READ, offsetBytes: sizeBytes, lengthBytes: 1000 });
    raw.send({ type: Command.FLUSH });
    raw.send({ type: Command.BLOCK_STATUS, lengthBytes: 2 * TRACK });
    raw.send({ type: Command.WRITE_ZEROES, lengthBytes: 10 });
    raw.send({ type: 77 });
    await raw.replies(7);
    raw.send({ type: Command.DISC });
    await raw.closed;
    const calls = request.mock.calls.map(([op, bytes, , ok]) => [op, bytes, ok]);
    expect(calls.sort()).toEqual(
      [
        ["write", 4096, true],
        ["read", 1000, true],
        ["read", 1000, false],
        ["flush", 0, true],
        ["block_status", 2 * TRACK, true],
        ["write_zeroes", 10, true],
        ["unknown", 0, false],
        ["disc", 0, true],
      ].sort(),
    );
    for (const [, , seconds] of request.mock.calls) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it("replies to requests in flight before NBD_CMD_DISC closes the connection", async () => {
    const server = await served();
    const raw = await client(server);
    await raw.open("VOL001");
    const write = raw.send({ type: Command.WRITE, offsetBytes: 0 }, Buffer.alloc(3 * TRACK, 5));
    raw.send({ type: Command.DISC });
    expect(await raw.reply()).toMatchObject({ handle: write, error: 0 });
    expect(await raw.closedWithin(5000)).toBe(true);
    expect(server.store.showVolume("VOL001").allocatedTracks).toBe(3);
  });

  it("lets requests in flight finish and reply when the server closes", async () => {
    const server = await served();
    const write = server.store.write.bind(server.store);
    let started: () => void = () => {};
    const writeStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    vi.spyOn(server.store, "write").mockImplementation(async (volser, request) => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 200));
      return write(volser, request);
    });
    const raw = await client(server);
    await raw.open("VOL001");
    const handle = raw.send({ type: Command.WRITE, offsetBytes: 0 }, Buffer.alloc(100, 7));
    await writeStarted;
    const closing = server.server.close();
    expect(await raw.reply()).toMatchObject({ handle, error: 0 });
    await closing;
    expect(await raw.closedWithin(1000)).toBe(true);
    const stored = await server.store.read("VOL001", { offsetBytes: 0, lengthBytes: 100 });
    expect(stored.equals(Buffer.alloc(100, 7))).toBe(true);
  });

  it("serves a client that uses NBD_OPT_EXPORT_NAME, with and without the zero padding", async () => {
    const server = await served();
    for (const flags of [
      ClientFlag.FIXED_NEWSTYLE,
      ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES,
    ]) {
      const raw = await client(server);
      await raw.handshake(flags);
      raw.write(
        Buffer.concat([Buffer.from("IHAVEOPT"), Buffer.from([0, 0, 0, Option.EXPORT_NAME])]),
      );
      raw.write(Buffer.from([0, 0, 0, 6]));
      raw.write(Buffer.from("VOL002"));
      const reply = await raw.read(flags & ClientFlag.NO_ZEROES ? 10 : 134);
      expect(reply.readBigUInt64BE(0)).toBe(BigInt(30 * TRACK));
      raw.send({ type: Command.WRITE, offsetBytes: 0 }, Buffer.from("abc"));
      expect((await raw.reply()).error).toBe(0);
    }
  });

  it("closes a connection whose NBD_OPT_EXPORT_NAME names no volume", async () => {
    const server = await served();
    const raw = await client(server);
    await raw.handshake();
    raw.write(Buffer.concat([Buffer.from("IHAVEOPT"), Buffer.from([0, 0, 0, 1, 0, 0, 0, 4])]));
    raw.write(Buffer.from("NOPE"));
    expect(await raw.closedWithin(5000)).toBe(true);
  });

  it("exports a volume created after the server started", async () => {
    const server = await served();
    await server.store.createVolume({ volser: "LATE", cylinders: 1 });
    const raw = await client(server);
    expect((await raw.open("LATE")).sizeBytes).toBe(15 * TRACK);
  });
});
