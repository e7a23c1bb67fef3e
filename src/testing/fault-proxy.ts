// A TCP proxy that sits on a peer link between two storage systems and lets a test break it: cut
// every connection at once or after a number of bytes, refuse new connections, delay traffic,
// and corrupt frames going from the client to the target. Corruption follows the frame stream
// (docs/link-protocol.md), so a test can flip a byte inside a track's data (of a TRACK_DATA, of a
// data TRACK_PIECE, or of one track of a TRACK_BATCH) and leave the header intact (the receiver sees a checksum
// mismatch), or flip the magic (a protocol error).
//
// The frame scanner is pure; the proxy around it forwards each direction of each connection pair
// in order, after the delay, pausing the side that reads when the side that writes falls behind.

import assert from "node:assert/strict";
import net, { type AddressInfo, type Socket } from "node:net";
import { FRAME_HEADER_BYTES, FrameType } from "../link/frame-types.js";

/** XORed into a byte to corrupt it: every bit changes, so the byte always differs. */
const FLIP_MASK = 0xff;

/** TRACK_DATA fields after the VOLSER's length byte and text: track number u32, checksum u64. */
const TRACK_FIELDS_BYTES = 12;

/** TRACK_PIECE fields after the VOLSER: track, offset and length u32, kind u8, checksum u64. */
const PIECE_FIELDS_BYTES = 21;

/** TRACK_BATCH: the track count (u16) after the VOLSER, then a table of 16 bytes a track. */
const BATCH_COUNT_BYTES = 2;
const BATCH_ENTRY_BYTES = 16;

/**
 * Bytes one direction of one pair holds (delayed or waiting for a slow reader) before the proxy
 * stops reading from the sender: four 1 MiB tracks keep a pipelined copy moving under a delay
 * without letting a fast sender grow the proxy's memory without bound.
 */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** Faults waiting for the next frames client->target, shared by every connection pair. */
export class FaultPlan {
  trackDataToCorrupt = 0;
  headersToCorrupt = 0;
  framesCorrupted = 0;

  takeTrackData(): boolean {
    if (this.trackDataToCorrupt === 0) return false;
    this.trackDataToCorrupt -= 1;
    this.framesCorrupted += 1;
    return true;
  }

  takeHeader(): boolean {
    if (this.headersToCorrupt === 0) return false;
    this.headersToCorrupt -= 1;
    this.framesCorrupted += 1;
    return true;
  }
}

/**
 * Follows one connection's frame stream a chunk at a time and flips the bytes the plan asks for.
 * States: "header" (headerOffset of 16 bytes seen) -> "payload" (payloadOffset of payloadBytes
 * seen) -> "header" again; a frame with an empty payload goes straight back to "header". The
 * fields are read from the bytes as they came, never from the flipped copy, so a corrupted frame
 * does not throw the scanner off the stream.
 */
export class FrameCorrupter {
  private phase: "header" | "payload" = "header";
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerOffset = 0;
  private payloadOffset = 0;
  private payloadBytes = 0;
  private isTrackData = false;
  private isTrackPiece = false;
  private isTrackBatch = false;
  /** A TRACK_BATCH's first payload bytes (VOLSER and count), to find where its data starts. */
  private readonly batchPrefix = Buffer.alloc(1 + 255 + BATCH_COUNT_BYTES);
  /** Payload offset of the byte to flip in the current frame, or -1. */
  private flipOffset = -1;

  constructor(private readonly plan: FaultPlan) {}

  /** The chunk to forward: `chunk` itself, or a copy with bytes flipped. */
  scan(chunk: Buffer): Buffer {
    let output = chunk;
    const flip = (index: number): void => {
      if (output === chunk) output = Buffer.from(chunk);
      output[index] ^= FLIP_MASK;
    };
    let index = 0;
    while (index < chunk.length) {
      if (this.phase === "header") {
        if (this.headerOffset === 0 && this.plan.takeHeader()) flip(index);
        const take = Math.min(FRAME_HEADER_BYTES - this.headerOffset, chunk.length - index);
        chunk.copy(this.header, this.headerOffset, index, index + take);
        this.headerOffset += take;
        index += take;
        if (this.headerOffset === FRAME_HEADER_BYTES) this.startPayload();
      } else {
        if (this.payloadOffset === 0 && this.isTrackData) {
          this.aimAtData(chunk[index], TRACK_FIELDS_BYTES);
        }
        if (this.payloadOffset === 0 && this.isTrackPiece) {
          this.aimAtData(chunk[index], PIECE_FIELDS_BYTES);
        }
        let take = Math.min(this.payloadBytes - this.payloadOffset, chunk.length - index);
        if (this.isTrackBatch) take = this.followBatchPrefix(chunk, index, take);
        const flipAt = this.flipOffset - this.payloadOffset;
        if (flipAt >= 0 && flipAt < take) flip(index + flipAt);
        this.payloadOffset += take;
        index += take;
        if (this.payloadOffset === this.payloadBytes) this.phase = "header";
      }
    }
    assert.equal(output.length, chunk.length);
    return output;
  }

  private startPayload(): void {
    this.headerOffset = 0;
    this.payloadOffset = 0;
    this.payloadBytes = this.header.readUInt32BE(12);
    this.isTrackData = this.header.readUInt8(5) === FrameType.TRACK_DATA;
    this.isTrackPiece = this.header.readUInt8(5) === FrameType.TRACK_PIECE;
    this.isTrackBatch = this.header.readUInt8(5) === FrameType.TRACK_BATCH;
    this.flipOffset = -1;
    this.phase = this.payloadBytes === 0 ? "header" : "payload";
  }

  /**
   * Picks the middle byte of a TRACK_DATA or TRACK_PIECE frame's data (after `fieldsBytes` of
   * fields past the VOLSER), once its VOLSER length is known.
   */
  private aimAtData(volserBytes: number, fieldsBytes: number): void {
    const dataOffset = 1 + volserBytes + fieldsBytes;
    const dataBytes = this.payloadBytes - dataOffset;
    // A frame without data (or a malformed one) has nothing to corrupt: the plan waits.
    if (dataBytes <= 0 || !this.plan.takeTrackData()) return;
    this.flipOffset = dataOffset + Math.floor(dataBytes / 2);
    assert.ok(this.flipOffset < this.payloadBytes, "the flipped byte is inside the payload");
  }

  /**
   * Takes a TRACK_BATCH's VOLSER and count as they pass (at most `take` bytes, stopping where the
   * count ends) and aims at the middle byte of the batch's data once the count is known. Returns
   * how many bytes to take now.
   */
  private followBatchPrefix(chunk: Buffer, index: number, take: number): number {
    const volserBytes = this.payloadOffset === 0 ? chunk[index] : this.batchPrefix[0];
    const prefixBytes = 1 + volserBytes + BATCH_COUNT_BYTES;
    if (this.payloadOffset >= prefixBytes) return take;
    const now = Math.min(take, prefixBytes - this.payloadOffset);
    chunk.copy(this.batchPrefix, this.payloadOffset, index, index + now);
    if (this.payloadOffset + now === prefixBytes) {
      const count = this.batchPrefix.readUInt16BE(1 + volserBytes);
      const dataOffset = prefixBytes + count * BATCH_ENTRY_BYTES;
      const dataBytes = this.payloadBytes - dataOffset;
      // A batch of zero records alone (or a malformed one) has nothing to corrupt.
      if (dataBytes > 0 && this.plan.takeTrackData()) {
        this.flipOffset = dataOffset + Math.floor(dataBytes / 2);
      }
    }
    return now;
  }
}

export interface FaultProxyOptions {
  /** Where the proxy connects for each client: the storage system under test. */
  readonly target: { readonly host: string; readonly port: number };
}

export interface FaultProxyStats {
  /** Connection pairs opened (refused connections are not pairs). */
  readonly connections: number;
  /** Connections accepted and closed at once while refusing. */
  readonly refused: number;
  /** Bytes written client->target and target->client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** TRACK_DATA and TRACK_BATCH frames and headers corrupted. */
  readonly framesCorrupted: number;
}

export interface FaultProxy {
  /** The port on 127.0.0.1 where clients connect. */
  readonly port: number;
  readonly stats: FaultProxyStats;
  /** Destroys both sockets of every connection pair at once. */
  cut(): void;
  /** While refusing, new connections are accepted and closed at once: the peer looks down. */
  setRefusing(refusing: boolean): void;
  /** Each chunk, in either direction, waits this long before it is forwarded; order is kept. */
  setDelay(delayMs: number): void;
  /**
   * Flips one byte in the data of each of the next `frameCount` TRACK_DATA frames, or of one track
   * of each of the next TRACK_BATCH frames.
   */
  corruptTrackData(frameCount: number): void;
  /** Flips the first magic byte of the next frame client->target. */
  corruptHeader(): void;
  /** Forwards `byteCount` more bytes client->target, drops the rest and cuts every pair. */
  cutAfterBytes(byteCount: number): void;
  /** Cuts every pair and stops listening. */
  close(): Promise<void>;
}

interface Queued {
  readonly bytes: Buffer | "end";
  readonly dueAtMs: number;
  /** Runs once the bytes are handed to the sink's socket. */
  readonly afterWrite?: () => void;
}

/** One direction of one pair: reads `source` and writes `sink`, in order, after the delay. */
class Forwarder {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sinkFull = false;
  private stopped = false;

  constructor(
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly hooks: {
      readonly delayMs: () => number;
      /** What to forward of a chunk, and whether to cut every pair once it is written. */
      readonly take: (chunk: Buffer) => { bytes: Buffer; thenCut: boolean };
      readonly written: (byteCount: number) => void;
      readonly cutAll: () => void;
    },
  ) {
    source.on("data", (chunk: Buffer) => this.receive(chunk));
    source.on("end", () => this.push("end"));
    sink.on("drain", () => {
      this.sinkFull = false;
      this.pump();
    });
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
  }

  private receive(chunk: Buffer): void {
    if (this.stopped) return;
    const { bytes, thenCut } = this.hooks.take(chunk);
    if (thenCut) {
      // Nothing after the cut point goes anywhere: the pair is about to be destroyed.
      this.stopped = true;
      this.source.pause();
    }
    this.push(bytes, thenCut ? this.hooks.cutAll : undefined);
  }

  private push(bytes: Buffer | "end", afterWrite?: () => void): void {
    // The queue is first in, first out: a chunk due earlier (the delay was shortened meanwhile)
    // still waits for the chunks ahead of it, so bytes are never reordered.
    this.queue.push({ bytes, dueAtMs: Date.now() + this.hooks.delayMs(), afterWrite });
    if (bytes !== "end") this.queuedBytes += bytes.length;
    this.pump();
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && !this.sinkFull) {
      const item = this.queue[0];
      const waitMs = item.dueAtMs - Date.now();
      if (waitMs > 0) {
        this.timer = setTimeout(() => this.pump(), waitMs);
        break;
      }
      this.queue.shift();
      this.write(item);
    }
    const holding = this.sinkFull || this.queuedBytes >= MAX_QUEUED_BYTES;
    if (holding || this.stopped) this.source.pause();
    else this.source.resume();
  }

  private write(item: Queued): void {
    if (this.sink.destroyed) return;
    if (item.bytes === "end") {
      this.sink.end();
      return;
    }
    const byteCount = item.bytes.length;
    this.queuedBytes -= byteCount;
    this.sinkFull = !this.sink.write(item.bytes, () => item.afterWrite?.());
    this.hooks.written(byteCount);
  }
}

interface Pair {
  readonly client: Socket;
  readonly target: Socket;
  readonly forwarders: readonly Forwarder[];
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const plan = new FaultPlan();
  const pairs = new Set<Pair>();
  const counts = { connections: 0, refused: 0, bytesUp: 0, bytesDown: 0 };
  let refusing = false;
  let delayMs = 0;
  /** Bytes client->target still allowed before every pair is cut; undefined: no cut armed. */
  let bytesBeforeCut: number | undefined;

  const destroyPair = (pair: Pair): void => {
    for (const forwarder of pair.forwarders) forwarder.stop();
    pair.client.destroy();
    pair.target.destroy();
    pairs.delete(pair);
  };
  const cutAll = (): void => {
    for (const pair of [...pairs]) destroyPair(pair);
  };
  const takeUp = (scanner: FrameCorrupter, chunk: Buffer) => {
    let bytes = chunk;
    let thenCut = false;
    if (bytesBeforeCut !== undefined && bytesBeforeCut <= chunk.length) {
      bytes = chunk.subarray(0, bytesBeforeCut);
      bytesBeforeCut = undefined;
      thenCut = true;
    } else if (bytesBeforeCut !== undefined) {
      bytesBeforeCut -= chunk.length;
    }
    return { bytes: scanner.scan(bytes), thenCut };
  };

  const accept = (client: Socket): void => {
    client.on("error", () => {});
    if (refusing) {
      counts.refused += 1;
      client.destroy();
      return;
    }
    counts.connections += 1;
    client.pause();
    const target = net.connect({ ...options.target, allowHalfOpen: true });
    target.on("error", () => {});
    const scanner = new FrameCorrupter(plan);
    const up = new Forwarder(client, target, {
      delayMs: () => delayMs,
      take: (chunk) => takeUp(scanner, chunk),
      written: (byteCount) => {
        counts.bytesUp += byteCount;
      },
      cutAll,
    });
    const down = new Forwarder(target, client, {
      delayMs: () => delayMs,
      take: (chunk) => ({ bytes: chunk, thenCut: false }),
      written: (byteCount) => {
        counts.bytesDown += byteCount;
      },
      cutAll,
    });
    const pair: Pair = { client, target, forwarders: [up, down] };
    pairs.add(pair);
    let open = 2;
    for (const socket of [client, target]) {
      // A reset or a failed connect on either side takes the whole pair down; a clean close of
      // both directions just forgets it.
      socket.on("close", (hadError) => {
        open -= 1;
        if (hadError || open === 0) destroyPair(pair);
      });
    }
  };

  const server = net.createServer({ allowHalfOpen: true }, accept);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    get stats(): FaultProxyStats {
      return { ...counts, framesCorrupted: plan.framesCorrupted };
    },
    cut: cutAll,
    setRefusing: (value) => {
      refusing = value;
    },
    setDelay: (value) => {
      assert.ok(Number.isFinite(value) && value >= 0, "a delay is a finite number of ms >= 0");
      delayMs = value;
    },
    corruptTrackData: (frameCount) => {
      assert.ok(Number.isInteger(frameCount) && frameCount >= 0, "a frame count is an integer");
      plan.trackDataToCorrupt += frameCount;
    },
    corruptHeader: () => {
      plan.headersToCorrupt += 1;
    },
    cutAfterBytes: (byteCount) => {
      assert.ok(Number.isInteger(byteCount) && byteCount >= 0, "a byte count is an integer");
      bytesBeforeCut = byteCount;
      if (byteCount === 0) {
        bytesBeforeCut = undefined;
        cutAll();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}

/** The proxies of one test file, each in front of a "HOST:PORT" address, closed together. */
export interface FaultProxies {
  /** Starts a proxy in front of `address`, such as a storage system's link listener. */
  start(address: string): Promise<FaultProxy>;
  /** Closes every proxy started since the last call (for an `afterEach`). */
  closeAll(): Promise<void>;
}

export function faultProxies(): FaultProxies {
  const started: FaultProxy[] = [];
  return {
    async start(address) {
      const [host, port] = address.split(":");
      const proxy = await startFaultProxy({ target: { host, port: Number(port) } });
      started.push(proxy);
      return proxy;
    },
    async closeAll() {
      for (const proxy of started.splice(0)) await proxy.close();
    },
  };
}
