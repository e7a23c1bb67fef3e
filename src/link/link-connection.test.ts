// Two real link endpoints on 127.0.0.1: authentication, pipelined track transfer, refusals, and
// peers that send garbage. Every refusal or violation closes only that connection, logs one line,
// and leaves the listener serving good peers.

import { randomBytes } from "node:crypto";
import net from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { connectLink } from "./connect-link.js";
import { encodeFrame } from "./frame-codec.js";
import { FrameReader } from "./frame-reader.js";
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  type Frame,
  FrameType,
  MAX_PAYLOAD_BYTES,
  NackReason,
} from "./frame-types.js";
import { LinkHandshake } from "./handshake.js";
import type { LinkConnection } from "./link-connection.js";
import { MAX_BYTES_IN_FLIGHT, MAX_FRAMES_IN_FLIGHT } from "./link-connection.js";
import { type LinkListener, listenLink } from "./link-listener.js";
import type { LinkLogger } from "./link-logger.js";
import { trackChecksum } from "./track-checksum.js";

const SECRET = "correct horse battery staple";
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface LogLine {
  readonly level: "info" | "warn";
  readonly msg: string;
  readonly obj: object;
}

function collectingLogger(lines: LogLine[]): LinkLogger {
  return {
    info: (obj, msg) => lines.push({ level: "info", obj, msg }),
    warn: (obj, msg) => lines.push({ level: "warn", obj, msg }),
  };
}

/** A responder that stores tracks, checking each checksum again before it does (a second path). */
function serveTracks(connection: LinkConnection, tracks: Map<string, Buffer | "zero">): void {
  void (async () => {
    for await (const frame of connection) {
      if (frame.type === "PING") {
        connection.send({ type: "PONG", requestId: frame.requestId });
      } else if (frame.type === "TRACK_ZERO") {
        tracks.set(`${frame.volser}/${frame.trackNumber}`, "zero");
        connection.send({ type: "ACK", requestId: frame.requestId });
      } else if (frame.type === "TRACK_DATA") {
        expect(trackChecksum(frame.data)).toBe(frame.checksum);
        tracks.set(`${frame.volser}/${frame.trackNumber}`, Buffer.from(frame.data));
        connection.send({ type: "ACK", requestId: frame.requestId });
      } else if (frame.type === "TRACK_PIECE") {
        if (frame.data !== undefined) expect(trackChecksum(frame.data)).toBe(frame.checksum);
        const key = `${frame.volser}/${frame.trackNumber}@${frame.offsetBytes}+${frame.lengthBytes}`;
        tracks.set(key, frame.data === undefined ? "zero" : Buffer.from(frame.data));
        connection.send({ type: "ACK", requestId: frame.requestId });
      } else if (frame.type === "TRACK_BATCH") {
        for (const track of frame.tracks) {
          if (track.data !== undefined) expect(trackChecksum(track.data)).toBe(track.checksum);
          const stored = track.data === undefined ? "zero" : Buffer.from(track.data);
          tracks.set(`${frame.volser}/${track.trackNumber}`, stored);
          if (track.blockSums !== undefined) {
            tracks.set(`${frame.volser}/${track.trackNumber}/sums`, Buffer.from(track.blockSums));
          }
        }
        connection.send({ type: "ACK", requestId: frame.requestId });
      }
    }
  })();
}

interface Served {
  readonly listener: LinkListener;
  readonly lines: LogLine[];
  readonly tracks: Map<string, Buffer | "zero">;
}

async function served(tls?: { certPath: string; keyPath: string }): Promise<Served> {
  const lines: LogLine[] = [];
  const tracks = new Map<string, Buffer | "zero">();
  const listener = await listenLink({
    host: "127.0.0.1",
    port: 0,
    secret: SECRET,
    serial: "GS00002",
    ssids: ["00A1"],
    tls,
    logger: collectingLogger(lines),
    onConnection: (connection) => serveTracks(connection, tracks),
  });
  cleanups.push(() => listener.close());
  return { listener, lines, tracks };
}

async function connectGood(server: Served, secret = SECRET): Promise<LinkConnection> {
  const connection = await connectLink({
    host: "127.0.0.1",
    port: server.listener.address.port,
    secret,
    serial: "GS00001",
    expectSerial: "GS00002",
  });
  cleanups.push(() => connection.close());
  return connection;
}

/** A raw socket to the listener; resolves when the listener closes it. */
async function rawPeer(port: number): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  cleanups.push(() => {
    socket.destroy();
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, closed };
}

/** A raw socket that has passed the handshake by hand, free to misbehave afterwards. */
async function rawAuthenticated(
  port: number,
  versions?: readonly number[],
): Promise<{ socket: net.Socket; closed: Promise<void>; received: Frame[] }> {
  const peer = await rawPeer(port);
  const received: Frame[] = [];
  const handshake = new LinkHandshake({
    role: "initiator",
    versions,
    secret: SECRET,
    serial: "GS00001",
    expectSerial: "GS00002",
    nonce: randomBytes(32),
  });
  const reader = new FrameReader();
  const send = (frames: readonly Frame[]) => {
    for (const frame of frames) peer.socket.write(encodeFrame(frame));
  };
  await new Promise<void>((resolve, reject) => {
    peer.socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      for (let result = reader.next(); result.status === "frame"; result = reader.next()) {
        if (handshake.state === "established") {
          received.push(result.frame);
          continue;
        }
        const step = handshake.receive(result.frame);
        send(step.send);
        if (step.outcome?.kind === "established") resolve();
        else if (step.outcome) reject(new Error(step.outcome.message));
      }
    });
    send(handshake.start().send);
  });
  return { ...peer, received };
}

function header(type: number, payloadBytes: number): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt32BE(FRAME_MAGIC, 0);
  bytes.writeUInt8(1, 4);
  bytes.writeUInt8(type, 5);
  bytes.writeUInt32BE(payloadBytes, 12);
  return bytes;
}

async function expectStillServing(server: Served): Promise<void> {
  const connection = await connectGood(server);
  expect(await connection.request({ type: "PING" })).toMatchObject({ type: "PONG" });
}

describe("link connection", () => {
  it("authenticates two sockets and carries pipelined TRACK_DATA, TRACK_ZERO and their ACKs", async () => {
    const server = await served();
    const connection = await connectGood(server);
    // Both speak versions 1 to 4: the highest, with TRACK_BATCH, TRACK_PIECE and block checksums
    // in batches, is chosen.
    expect(connection.linkSession).toEqual({
      version: 4,
      peerSerial: "GS00002",
      peerSsids: ["00A1"],
    });
    // Four windows' worth of requests at once: the window holds the rest back, nothing is lost.
    const count = MAX_FRAMES_IN_FLIGHT * 4;
    const replies = await Promise.all(
      Array.from({ length: count }, (_, trackNumber) => {
        if (trackNumber % 5 === 0) {
          return connection.request({ type: "TRACK_ZERO", volser: "VOL001", trackNumber });
        }
        const data = Buffer.alloc(57_344, trackNumber & 0xff);
        const checksum = trackChecksum(data);
        return connection.request({
          type: "TRACK_DATA",
          volser: "VOL001",
          trackNumber,
          checksum,
          data,
        });
      }),
    );
    expect(replies.every((reply) => reply.type === "ACK")).toBe(true);
    expect(server.tracks.size).toBe(count);
    expect(server.tracks.get("VOL001/0")).toBe("zero");
    expect(server.tracks.get("VOL001/7")).toEqual(Buffer.alloc(57_344, 7));
  });

  it("gets a NACK for a track whose checksum does not match, and an ACK when sent again", async () => {
    const server = await served();
    const connection = await connectGood(server);
    const data = Buffer.alloc(4096, 1);
    const corrupt = Buffer.from(data);
    corrupt[100] ^= 0xff;
    const checksum = trackChecksum(data);
    const first = await connection.request({
      type: "TRACK_DATA",
      volser: "VOL001",
      trackNumber: 3,
      checksum,
      data: corrupt,
    });
    expect(first).toMatchObject({ type: "NACK", reason: NackReason.CHECKSUM_MISMATCH });
    expect(server.tracks.has("VOL001/3")).toBe(false);
    const again = await connection.request({
      type: "TRACK_DATA",
      volser: "VOL001",
      trackNumber: 3,
      checksum,
      data,
    });
    expect(again).toMatchObject({ type: "ACK" });
    expect(server.tracks.get("VOL001/3")).toEqual(data);
  });

  it("refuses a peer with the wrong secret and logs the refusal", async () => {
    const server = await served();
    await expect(connectGood(server, "not the secret")).rejects.toMatchObject({
      code: "LINK_AUTH_FAILED",
    });
    await expect.poll(() => server.lines.some((line) => line.level === "warn")).toBe(true);
    const refusal = server.lines.find((line) => line.level === "warn");
    expect(refusal?.msg).toMatch(
      /^link closed: Cannot establish link: peer "GS00001" did not prove/,
    );
    expect(refusal?.obj).toMatchObject({ code: "LINK_AUTH_FAILED" });
    expect(JSON.stringify(server.lines)).not.toContain(SECRET);
    await expectStillServing(server);
  });

  it("refuses an initiator that expects another serial", async () => {
    const server = await served();
    const attempt = connectLink({
      host: "127.0.0.1",
      port: server.listener.address.port,
      secret: SECRET,
      serial: "GS00001",
      expectSerial: "GS00009",
    });
    await expect(attempt).rejects.toMatchObject({ code: "LINK_WRONG_SERIAL" });
  });

  it("fails to connect to a port where nothing listens with LINK_DOWN", async () => {
    const server = await served();
    const port = server.listener.address.port;
    await server.listener.close();
    const attempt = connectLink({
      host: "127.0.0.1",
      port,
      secret: SECRET,
      serial: "A",
      expectSerial: "B",
    });
    await expect(attempt).rejects.toMatchObject({ code: "LINK_DOWN" });
  });

  it("fails requests in flight with LINK_DOWN when the connection closes", async () => {
    const server = await served();
    const connection = await connectGood(server);
    const pending = connection.request({ type: "PING" });
    connection.close();
    await expect(pending).rejects.toMatchObject({ code: "LINK_DOWN" });
    await expect(connection.request({ type: "PING" })).rejects.toMatchObject({ code: "LINK_DOWN" });
  });

  it.each([
    ["random garbage", () => randomBytes(4000)],
    ["an oversized length", () => header(FrameType.TRACK_DATA, MAX_PAYLOAD_BYTES + 1)],
    ["an unknown type", () => Buffer.concat([header(77, 4), Buffer.alloc(4)])],
    ["a frame cut short and left hanging", () => header(FrameType.HELLO, 3)],
  ])("closes a peer that sends %s before the handshake and keeps serving", async (_what, bytes) => {
    const server = await served();
    const peer = await rawPeer(server.listener.address.port);
    peer.socket.write(bytes());
    if (_what.startsWith("a frame cut short")) peer.socket.end();
    await peer.closed;
    await expect
      .poll(() => server.lines.some((line) => line.msg.startsWith("link closed")))
      .toBe(true);
    await expectStillServing(server);
  });

  it("drops a peer that stays silent past the handshake timeout", async () => {
    const lines: LogLine[] = [];
    const listener = await listenLink({
      host: "127.0.0.1",
      port: 0,
      secret: SECRET,
      serial: "GS00002",
      logger: collectingLogger(lines),
      handshakeTimeoutMs: 100,
      onConnection: () => {},
    });
    cleanups.push(() => listener.close());
    const peer = await rawPeer(listener.address.port);
    await peer.closed;
    expect(lines.find((line) => line.level === "warn")?.msg).toMatch(/handshake timed out/);
  });

  it("closes an authenticated peer that sends an unknown type, logging LINK_PROTOCOL", async () => {
    const server = await served();
    const peer = await rawAuthenticated(server.listener.address.port);
    peer.socket.write(Buffer.concat([header(77, 0)]));
    await peer.closed;
    const line = server.lines.find((entry) => entry.level === "warn");
    expect(line?.obj).toMatchObject({ code: "LINK_PROTOCOL" });
    expect(line?.msg).toMatch(/type 77 is unknown/);
    await expectStillServing(server);
  });

  it("carries a TRACK_BATCH and answers its damaged tracks alone with BATCH_NACK", async () => {
    const server = await served();
    const connection = await connectGood(server);
    expect(connection.carriesBatches).toBe(true);
    const good = randomBytes(57_344);
    const bad = randomBytes(57_344);
    const tracks = [
      { trackNumber: 1, checksum: trackChecksum(good), data: good },
      { trackNumber: 2, checksum: 0n, data: undefined },
      { trackNumber: 3, checksum: trackChecksum(bad) ^ 1n, data: bad },
    ];
    const reply = await connection.request({ type: "TRACK_BATCH", volser: "VOL001", tracks });
    expect(reply).toMatchObject({
      type: "BATCH_NACK",
      refusals: [{ index: 2, reason: NackReason.CHECKSUM_MISMATCH }],
    });
    // The sound tracks reached the handler; the damaged one never did.
    expect(server.tracks.get("VOL001/1")).toEqual(good);
    expect(server.tracks.get("VOL001/2")).toBe("zero");
    expect(server.tracks.has("VOL001/3")).toBe(false);
    // A batch all of whose data tracks are damaged is answered by the connection itself.
    const allBad = [{ trackNumber: 5, checksum: 1n, data: bad }];
    expect(
      await connection.request({ type: "TRACK_BATCH", volser: "VOL001", tracks: allBad }),
    ).toMatchObject({
      type: "BATCH_NACK",
      refusals: [{ index: 0, reason: NackReason.CHECKSUM_MISMATCH }],
    });
    expect(server.tracks.has("VOL001/5")).toBe(false);
    expect(await connection.request({ type: "PING" })).toMatchObject({ type: "PONG" });
  });

  it("carries a batch's block checksums, and asks for every data track again when they arrive damaged", async () => {
    const server = await served();
    const connection = await connectGood(server);
    expect(connection.carriesBlockSums).toBe(true);
    const data = randomBytes(57_344);
    const sums = randomBytes(56);
    const tracks = [
      { trackNumber: 1, checksum: trackChecksum(data), data, blockSums: sums },
      { trackNumber: 2, checksum: 0n, data: undefined },
    ];
    expect(
      await connection.request({ type: "TRACK_BATCH", volser: "VOL001", tracks }),
    ).toMatchObject({ type: "ACK" });
    expect(server.tracks.get("VOL001/1/sums")).toEqual(sums);
    // The same batch from a raw peer with one byte of its block checksums changed on the way.
    const peer = await rawAuthenticated(server.listener.address.port);
    const bytes = encodeFrame({
      type: "TRACK_BATCH",
      requestId: 7,
      volser: "VOL002",
      tracks: [...tracks, { trackNumber: 3, checksum: trackChecksum(data), data, blockSums: sums }],
    });
    // Header, VOLSER (1+6), count (2), three entries of 16, the sums' xxHash32 (4): the first sum.
    bytes[FRAME_HEADER_BYTES + 1 + 6 + 2 + 3 * 16 + 4] ^= 0x01;
    peer.socket.write(bytes);
    await vi.waitFor(() => expect(peer.received.length).toBeGreaterThan(0));
    expect(peer.received[0]).toMatchObject({
      type: "BATCH_NACK",
      requestId: 7,
      refusals: [
        { index: 0, reason: NackReason.CHECKSUM_MISMATCH },
        { index: 2, reason: NackReason.CHECKSUM_MISMATCH },
      ],
    });
    // The zero record was sound and stored; neither data track was.
    expect(server.tracks.get("VOL002/2")).toBe("zero");
    expect(server.tracks.has("VOL002/1")).toBe(false);
    expect(server.tracks.has("VOL002/3")).toBe(false);
  });

  it("closes a peer that sends a batch with block checksums on a link that agreed on version 3", async () => {
    const server = await served();
    const peer = await rawAuthenticated(server.listener.address.port, [1, 2, 3]);
    const data = Buffer.alloc(4096, 1);
    peer.socket.write(
      encodeFrame({
        type: "TRACK_BATCH",
        requestId: 1,
        volser: "VOL001",
        tracks: [
          { trackNumber: 0, checksum: trackChecksum(data), data, blockSums: Buffer.alloc(4) },
        ],
      }),
    );
    await peer.closed;
    const line = server.lines.find((entry) => entry.level === "warn");
    expect(line?.obj).toMatchObject({ code: "LINK_PROTOCOL" });
    expect(line?.msg).toMatch(/block checksums: protocol version 3 has none/);
    expect(server.tracks.size).toBe(0);
    await expectStillServing(server);
  });

  it("carries TRACK_PIECE data and zero pieces, and NACKs a damaged piece until it comes whole", async () => {
    const server = await served();
    const connection = await connectGood(server);
    expect(connection.carriesPieces).toBe(true);
    const data = randomBytes(4096);
    const corrupt = Buffer.from(data);
    corrupt[2048] ^= 0xff;
    const piece = {
      type: "TRACK_PIECE" as const,
      volser: "VOL001",
      trackNumber: 9,
      offsetBytes: 513,
      lengthBytes: 4096,
      checksum: trackChecksum(data),
    };
    const first = await connection.request({ ...piece, data: corrupt });
    expect(first).toMatchObject({ type: "NACK", reason: NackReason.CHECKSUM_MISMATCH });
    expect(server.tracks.size).toBe(0);
    expect(await connection.request({ ...piece, data })).toMatchObject({ type: "ACK" });
    expect(server.tracks.get("VOL001/9@513+4096")).toEqual(data);
    const zero = { ...piece, offsetBytes: 0, lengthBytes: 100, checksum: 0n, data: undefined };
    expect(await connection.request(zero)).toMatchObject({ type: "ACK" });
    expect(server.tracks.get("VOL001/9@0+100")).toBe("zero");
  });

  it("closes a peer that sends TRACK_PIECE on a link that agreed on version 2", async () => {
    const server = await served();
    const peer = await rawAuthenticated(server.listener.address.port, [1, 2]);
    const data = Buffer.alloc(10, 1);
    peer.socket.write(
      encodeFrame({
        type: "TRACK_PIECE",
        requestId: 1,
        volser: "VOL001",
        trackNumber: 0,
        offsetBytes: 0,
        lengthBytes: 10,
        checksum: trackChecksum(data),
        data,
      }),
    );
    await peer.closed;
    const line = server.lines.find((entry) => entry.level === "warn");
    expect(line?.obj).toMatchObject({ code: "LINK_PROTOCOL" });
    expect(line?.msg).toMatch(/TRACK_PIECE: protocol version 2 has none/);
    expect(server.tracks.size).toBe(0);
    await expectStillServing(server);
  });

  it("closes a peer that sends TRACK_BATCH on a link that agreed on version 1", async () => {
    const server = await served();
    const peer = await rawAuthenticated(server.listener.address.port, [1]);
    peer.socket.write(
      encodeFrame({
        type: "TRACK_BATCH",
        requestId: 1,
        volser: "VOL001",
        tracks: [{ trackNumber: 0, checksum: 0n, data: undefined }],
      }),
    );
    await peer.closed;
    const line = server.lines.find((entry) => entry.level === "warn");
    expect(line?.obj).toMatchObject({ code: "LINK_PROTOCOL" });
    expect(line?.msg).toMatch(/protocol version 1 has none/);
    expect(server.tracks.size).toBe(0);
    await expectStillServing(server);
  });

  it("closes an authenticated peer that goes past its window or replies to nothing", async () => {
    const server = await served();
    // The served side answers, so it never has more than a window in flight; a silent listener
    // shows the limit instead.
    const quiet: LogLine[] = [];
    const listener = await listenLink({
      host: "127.0.0.1",
      port: 0,
      secret: SECRET,
      serial: "GS00002",
      logger: collectingLogger(quiet),
      onConnection: () => {},
    });
    cleanups.push(() => listener.close());
    const greedy = await rawAuthenticated(listener.address.port);
    for (let requestId = 1; requestId <= MAX_FRAMES_IN_FLIGHT + 1; requestId += 1) {
      greedy.socket.write(encodeFrame({ type: "PING", requestId }));
    }
    await greedy.closed;
    expect(quiet.find((line) => line.level === "warn")?.msg).toMatch(
      /past the window of 512 requests/,
    );
    // Few requests, but more track bytes than the window holds.
    quiet.length = 0;
    const heavy = await rawAuthenticated(listener.address.port);
    const data = Buffer.alloc(1024 * 1024, 7);
    const tracks = MAX_BYTES_IN_FLIGHT / data.length + 1;
    for (let requestId = 1; requestId <= tracks; requestId += 1) {
      heavy.socket.write(
        encodeFrame({
          type: "TRACK_DATA",
          requestId,
          volser: "VOL001",
          trackNumber: requestId,
          checksum: trackChecksum(data),
          data,
        }),
      );
    }
    await heavy.closed;
    expect(quiet.find((line) => line.level === "warn")?.msg).toMatch(/33554432 bytes in flight/);
    // A request id used again while the first request with it is unanswered.
    quiet.length = 0;
    const repeater = await rawAuthenticated(listener.address.port);
    repeater.socket.write(encodeFrame({ type: "PING", requestId: 7 }));
    repeater.socket.write(encodeFrame({ type: "PING", requestId: 7 }));
    await repeater.closed;
    expect(quiet.find((line) => line.level === "warn")?.msg).toMatch(/request 7 is in flight/);
    const liar = await rawAuthenticated(server.listener.address.port);
    liar.socket.write(encodeFrame({ type: "ACK", requestId: 999 }));
    await liar.closed;
    expect(server.lines.find((line) => line.level === "warn")?.msg).toMatch(/not in flight/);
    await expectStillServing(server);
  });
});
