// The fault proxy on real sockets on 127.0.0.1: it forwards faithfully until told otherwise, and
// then cuts, refuses, delays and corrupts exactly as asked. The frame scanner is also checked on
// its own against every way of splitting a stream, and once between two real link endpoints.

import net, { type Socket } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { connectLink } from "../link/connect-link.js";
import { decodeFrame, encodeFrame } from "../link/frame-codec.js";
import { type Frame, NackReason } from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";
import { listenLink } from "../link/link-listener.js";
import type { LinkLogger } from "../link/link-logger.js";
import { trackChecksum } from "../link/track-checksum.js";
import { FaultPlan, type FaultProxy, FrameCorrupter, startFaultProxy } from "./fault-proxy.js";
import { seededRandom } from "./prng.js";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves once `condition` holds; polls often, since the tests measure small delays. */
async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`Cannot wait: condition still false after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** One end of a TCP connection that keeps what it reads and says when it has closed. */
interface End {
  readonly socket: Socket;
  readonly chunks: Buffer[];
  readonly closed: Promise<void>;
  isClosed: boolean;
  byteCount: number;
  bytes(): Buffer;
}

function watch(socket: Socket): End {
  socket.on("error", () => {});
  const end: End = {
    socket,
    chunks: [],
    isClosed: false,
    byteCount: 0,
    closed: new Promise<void>((resolve) =>
      socket.on("close", () => {
        end.isClosed = true;
        resolve();
      }),
    ),
    bytes: () => Buffer.concat(end.chunks),
  };
  socket.on("data", (chunk: Buffer) => {
    end.chunks.push(chunk);
    end.byteCount += chunk.length;
  });
  return end;
}

/** A TCP server standing in for a storage system: it echoes, or just keeps what it reads. */
async function startTarget(mode: "echo" | "sink"): Promise<{ port: number; ends: End[] }> {
  const ends: End[] = [];
  const server = net.createServer((socket) => {
    ends.push(watch(socket));
    if (mode === "echo") socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const end of ends) end.socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, ends };
}

async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port } });
  cleanups.push(() => proxy.close());
  return proxy;
}

async function connectClient(port: number): Promise<End> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  cleanups.push(() => {
    socket.destroy();
  });
  const end = watch(socket);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return end;
}

/** Writes `bytes` one at a time, yielding between writes so that they travel apart. */
async function writeByteByByte(socket: Socket, bytes: Buffer): Promise<void> {
  for (let index = 0; index < bytes.length; index += 1) {
    socket.write(bytes.subarray(index, index + 1));
    if (index % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

const OTHER_FRAMES: readonly Frame[] = [
  { type: "PING", requestId: 7 },
  { type: "ACK", requestId: 8 },
  { type: "NACK", requestId: 9, reason: 4 },
  { type: "TRACK_ZERO", requestId: 10, volser: "VOL001", trackNumber: 3 },
  { type: "HELLO", requestId: 0, versions: [1], serial: "GS00001", expectSerial: "", ssids: [] },
];

function trackData(volser: string, trackNumber: number, data: Buffer): Frame {
  return {
    type: "TRACK_DATA",
    requestId: trackNumber + 1,
    volser,
    trackNumber,
    checksum: trackChecksum(data),
    data,
  };
}

/** A TRACK_PIECE at `offsetBytes` of track 2 with the given data (empty: a zero piece of 9). */
function trackPiece(volser: string, offsetBytes: number, data: Buffer): Frame {
  const zero = data.length === 0;
  return {
    type: "TRACK_PIECE",
    requestId: 77,
    volser,
    trackNumber: 2,
    offsetBytes,
    lengthBytes: zero ? 9 : data.length,
    checksum: zero ? 0n : trackChecksum(data),
    data: zero ? undefined : data,
  };
}

/** A TRACK_BATCH of tracks 0, 1, ... with the given data (empty: a zero record). */
function trackBatch(volser: string, datas: readonly Buffer[]): Frame {
  return {
    type: "TRACK_BATCH",
    requestId: 99,
    volser,
    tracks: datas.map((data, trackNumber) =>
      data.length === 0
        ? { trackNumber, checksum: 0n, data: undefined }
        : { trackNumber, checksum: trackChecksum(data), data },
    ),
  };
}

const frameArbitrary: fc.Arbitrary<Frame> = fc.oneof(
  fc.constantFrom(...OTHER_FRAMES),
  fc
    .record({
      volser: fc.constantFrom("A", "VOL001"),
      datas: fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: 1, maxLength: 5 }),
    })
    .map(({ volser, datas }) =>
      trackBatch(
        volser,
        datas.map((data) => Buffer.from(data)),
      ),
    ),
  fc
    .record({
      volser: fc.constantFrom("A", "VOL001", "AB#$"),
      trackNumber: fc.nat({ max: 1000 }),
      data: fc.uint8Array({ maxLength: 40 }),
    })
    .map(({ volser, trackNumber, data }) => trackData(volser, trackNumber, Buffer.from(data))),
  fc
    .record({
      volser: fc.constantFrom("A", "VOL001"),
      offsetBytes: fc.nat({ max: 60_000 }),
      data: fc.uint8Array({ maxLength: 40 }),
    })
    .map(({ volser, offsetBytes, data }) => trackPiece(volser, offsetBytes, Buffer.from(data))),
);

/**
 * Byte ranges [start, end) of the data of TRACK_DATA frames that have data, of data TRACK_PIECE
 * frames, and of the data of TRACK_BATCH frames that have any (it ends the frame), in stream
 * order.
 */
function dataRanges(frames: readonly Frame[]): [number, number][] {
  const ranges: [number, number][] = [];
  let offset = 0;
  for (const frame of frames) {
    const frameBytes = encodeFrame(frame).length;
    if (frame.type === "TRACK_DATA" && frame.data.length > 0) {
      ranges.push([offset + frameBytes - frame.data.length, offset + frameBytes]);
    }
    if (frame.type === "TRACK_PIECE" && frame.data !== undefined) {
      ranges.push([offset + frameBytes - frame.data.length, offset + frameBytes]);
    }
    if (frame.type === "TRACK_BATCH") {
      const dataBytes = frame.tracks.reduce((sum, track) => sum + (track.data?.length ?? 0), 0);
      if (dataBytes > 0) ranges.push([offset + frameBytes - dataBytes, offset + frameBytes]);
    }
    offset += frameBytes;
  }
  return ranges;
}

/** Says that `output` is `input` with one byte flipped in each of the first `count` data ranges. */
function expectDataCorrupted(input: Buffer, output: Buffer, frames: Frame[], count: number): void {
  expect(output.length).toBe(input.length);
  const changed: number[] = [];
  for (let index = 0; index < input.length; index += 1) {
    if (input[index] !== output[index]) changed.push(index);
  }
  const ranges = dataRanges(frames).slice(0, count);
  expect(changed.length).toBe(ranges.length);
  changed.forEach((index, rangeIndex) => {
    const [start, end] = ranges[rangeIndex];
    expect(index).toBeGreaterThanOrEqual(start);
    expect(index).toBeLessThan(end);
  });
}

describe("frame corrupter", () => {
  it("flips one byte in the data of exactly the next n TRACK_DATA, TRACK_PIECE or TRACK_BATCH frames, however the stream is split", () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 12 }),
        fc.nat({ max: 6 }),
        fc.array(fc.nat({ max: 40 }), { maxLength: 30 }),
        (frames, count, cuts) => {
          const input = Buffer.concat(frames.map(encodeFrame));
          const plan = new FaultPlan();
          plan.trackDataToCorrupt = count;
          const corrupter = new FrameCorrupter(plan);
          const pieces: Buffer[] = [];
          let offset = 0;
          for (const cut of cuts) {
            pieces.push(
              corrupter.scan(input.subarray(offset, Math.min(offset + cut, input.length))),
            );
            offset = Math.min(offset + cut, input.length);
          }
          pieces.push(corrupter.scan(input.subarray(offset)));
          expectDataCorrupted(input, Buffer.concat(pieces), frames, count);
          const eligible = dataRanges(frames).length;
          expect(plan.framesCorrupted).toBe(Math.min(count, eligible));
          expect(plan.trackDataToCorrupt).toBe(count - Math.min(count, eligible));
        },
      ),
    );
  });

  it("flips the first magic byte of the next frame, even when asked mid-frame", () => {
    const plan = new FaultPlan();
    const corrupter = new FrameCorrupter(plan);
    const first = encodeFrame(trackData("VOL001", 1, Buffer.alloc(100, 5)));
    const second = encodeFrame({ type: "PING", requestId: 2 });
    expect(corrupter.scan(first.subarray(0, 50))).toEqual(first.subarray(0, 50));
    plan.headersToCorrupt = 1;
    const rest = corrupter.scan(Buffer.concat([first.subarray(50), second]));
    const expected = Buffer.concat([first.subarray(50), second]);
    expected[first.length - 50] ^= 0xff;
    expect(rest).toEqual(expected);
    expect(plan.framesCorrupted).toBe(1);
  });
});

describe("fault proxy", () => {
  it("forwards bytes both ways unchanged", async () => {
    const target = await startTarget("echo");
    const proxy = await proxyTo(target.port);
    const client = await connectClient(proxy.port);
    const random = seededRandom(1);
    const sent = Buffer.from(Array.from({ length: 1 << 20 }, () => Math.floor(random() * 256)));
    client.socket.write(sent);
    await until(() => client.byteCount >= sent.length);
    expect(client.bytes().equals(sent)).toBe(true);
    expect(proxy.stats).toEqual({
      connections: 1,
      refused: 0,
      bytesUp: sent.length,
      bytesDown: sent.length,
      framesCorrupted: 0,
    });
    // A half-close travels through too: the echo ends its side, and both ends close cleanly.
    client.socket.end();
    await Promise.all([client.closed, target.ends[0].closed]);
  });

  it("stops reading from a sender whose target does not read, and loses nothing", async () => {
    const target = await startTarget("sink");
    const proxy = await proxyTo(target.port);
    const client = await connectClient(proxy.port);
    await until(() => target.ends.length === 1);
    target.ends[0].socket.pause();
    // Far more than the kernel's socket buffers and the proxy's queue can hold together.
    const sent = Buffer.alloc(32 << 20);
    for (let index = 0; index < sent.length; index += 4096) sent.writeUInt32BE(index, index);
    client.socket.write(sent);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(proxy.stats.bytesUp).toBeLessThan(sent.length / 2);
    target.ends[0].socket.resume();
    await until(() => proxy.stats.bytesUp === sent.length);
    await until(() => target.ends[0].byteCount === sent.length);
    expect(target.ends[0].bytes().equals(sent)).toBe(true);
  });

  it("cut() closes both sides of every pair, and new connections still get through", async () => {
    const target = await startTarget("echo");
    const proxy = await proxyTo(target.port);
    const clients = [await connectClient(proxy.port), await connectClient(proxy.port)];
    for (const client of clients) client.socket.write("x");
    await until(() => clients.every((client) => client.bytes().length === 1));
    proxy.cut();
    await Promise.all([
      ...clients.map((end) => end.closed),
      ...target.ends.map((end) => end.closed),
    ]);
    const again = await connectClient(proxy.port);
    again.socket.write("y");
    await until(() => again.bytes().toString() === "y");
  });

  it("while refusing, closes new connections at once without reaching the target", async () => {
    const target = await startTarget("echo");
    const proxy = await proxyTo(target.port);
    proxy.setRefusing(true);
    const refused = await connectClient(proxy.port);
    await refused.closed;
    expect(refused.bytes().length).toBe(0);
    expect(target.ends.length).toBe(0);
    proxy.setRefusing(false);
    const client = await connectClient(proxy.port);
    client.socket.write("y");
    await until(() => client.bytes().toString() === "y");
    expect(proxy.stats).toMatchObject({ connections: 1, refused: 1 });
  });

  it("delays each chunk in each direction and never lets a later chunk overtake", async () => {
    const delayMs = 60;
    const target = await startTarget("echo");
    const proxy = await proxyTo(target.port);
    const client = await connectClient(proxy.port);
    proxy.setDelay(delayMs);
    const startedMs = Date.now();
    client.socket.write("a");
    await until(() => client.bytes().length === 1);
    // Timers may fire a millisecond early by the wall clock: allow that much per direction.
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(2 * delayMs - 2);
    // A chunk sent without delay right after a delayed one waits for it.
    client.socket.write("b");
    await new Promise((resolve) => setTimeout(resolve, 5));
    proxy.setDelay(0);
    client.socket.write("c");
    await until(() => client.bytes().length === 3);
    expect(client.bytes().toString()).toBe("abc");
    expect(target.ends[0].bytes().toString()).toBe("abc");
  });

  it("corrupts the data of exactly n TRACK_DATA frames sent byte by byte, and nothing else", async () => {
    const target = await startTarget("sink");
    const proxy = await proxyTo(target.port);
    const client = await connectClient(proxy.port);
    const frames: Frame[] = [
      OTHER_FRAMES[0],
      trackData("VOL001", 0, Buffer.alloc(0)),
      trackData("VOL001", 1, Buffer.alloc(300, 1)),
      OTHER_FRAMES[3],
      trackData("A", 2, Buffer.alloc(1, 2)),
      trackData("VOL001", 3, Buffer.alloc(500, 3)),
      trackData("VOL001", 4, Buffer.alloc(200, 4)),
    ];
    const input = Buffer.concat(frames.map(encodeFrame));
    proxy.corruptTrackData(2);
    await writeByteByByte(client.socket, input);
    await until(() => target.ends[0]?.bytes().length === input.length);
    const output = target.ends[0].bytes();
    expectDataCorrupted(input, output, frames, 2);
    // Headers are intact, so a receiver still reads every frame; only two checksums disagree.
    const mismatched: number[] = [];
    for (let offset = 0; offset < output.length; ) {
      const decoded = decodeFrame(output.subarray(offset));
      if (decoded.status !== "frame") throw new Error(`Cannot decode frame at ${offset}`);
      const frame = decoded.frame;
      if (frame.type === "TRACK_DATA" && trackChecksum(frame.data) !== frame.checksum) {
        mismatched.push(frame.trackNumber);
      }
      offset += decoded.frameBytes;
    }
    expect(mismatched).toEqual([1, 2]);
    expect(proxy.stats.framesCorrupted).toBe(2);
  });

  it("corruptHeader() flips the magic of the next frame only", async () => {
    const target = await startTarget("sink");
    const proxy = await proxyTo(target.port);
    const client = await connectClient(proxy.port);
    const first = encodeFrame({ type: "PING", requestId: 1 });
    const second = encodeFrame(trackData("VOL001", 1, Buffer.alloc(64, 9)));
    proxy.corruptHeader();
    client.socket.write(Buffer.concat([first, second]));
    await until(() => target.ends[0]?.bytes().length === first.length + second.length);
    const output = target.ends[0].bytes();
    expect(output[0]).toBe(first[0] ^ 0xff);
    expect(output.subarray(1)).toEqual(Buffer.concat([first.subarray(1), second]));
    expect(proxy.stats.framesCorrupted).toBe(1);
  });

  it("cutAfterBytes(n) forwards exactly n more bytes, then cuts every pair", async () => {
    const target = await startTarget("sink");
    const proxy = await proxyTo(target.port);
    const client = await connectClient(proxy.port);
    const other = await connectClient(proxy.port);
    client.socket.write(Buffer.alloc(100, 1));
    await until(() => proxy.stats.bytesUp === 100);
    proxy.cutAfterBytes(1000);
    client.socket.write(Buffer.alloc(5000, 2));
    await Promise.all([client.closed, other.closed, ...target.ends.map((end) => end.closed)]);
    const received = target.ends.find((end) => end.bytes().length > 0)?.bytes();
    expect(received).toEqual(Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(1000, 2)]));
    expect(proxy.stats.bytesUp).toBe(1100);
  });
});

describe("fault proxy between two link endpoints", () => {
  const SECRET = "correct horse battery staple";

  async function linkThroughProxy(): Promise<{
    proxy: FaultProxy;
    connection: LinkConnection;
    warnings: string[];
  }> {
    const warnings: string[] = [];
    const logger: LinkLogger = { info: () => {}, warn: (_obj, msg) => warnings.push(msg) };
    const listener = await listenLink({
      host: "127.0.0.1",
      port: 0,
      secret: SECRET,
      serial: "GS00002",
      logger,
      onConnection: (connection) => {
        void (async () => {
          for await (const frame of connection) {
            connection.send({
              type: frame.type === "PING" ? "PONG" : "ACK",
              requestId: frame.requestId,
            });
          }
        })();
      },
    });
    cleanups.push(() => listener.close());
    const proxy = await proxyTo(listener.address.port);
    const connection = await connectLink({
      host: "127.0.0.1",
      port: proxy.port,
      secret: SECRET,
      serial: "GS00001",
      expectSerial: "GS00002",
    });
    cleanups.push(() => connection.close());
    return { proxy, connection, warnings };
  }

  it("a corrupted TRACK_DATA gets NACK checksum mismatch, and the same track sent again an ACK", async () => {
    const { proxy, connection } = await linkThroughProxy();
    const data = Buffer.alloc(4096, 7);
    const body = { type: "TRACK_DATA", volser: "VOL001", trackNumber: 3, data } as const;
    proxy.corruptTrackData(1);
    const request = { ...body, checksum: trackChecksum(data) };
    expect(await connection.request(request)).toMatchObject({
      type: "NACK",
      reason: NackReason.CHECKSUM_MISMATCH,
    });
    expect(await connection.request(request)).toMatchObject({ type: "ACK" });
  });

  it("a corrupted header closes the link as a protocol error", async () => {
    const { proxy, connection, warnings } = await linkThroughProxy();
    proxy.corruptHeader();
    await expect(connection.request({ type: "PING" })).rejects.toMatchObject({ code: "LINK_DOWN" });
    await until(() => warnings.length > 0);
    expect(warnings[0]).toMatch(/magic 0x.* is not GSLK/);
  });

  it("a cut fails the requests in flight with LINK_DOWN", async () => {
    const { proxy, connection } = await linkThroughProxy();
    proxy.setDelay(50);
    const pending = connection.request({ type: "PING" });
    proxy.cut();
    await expect(pending).rejects.toMatchObject({ code: "LINK_DOWN" });
  });
});
