// One peer link connection: the I/O shell around the pure handshake and frame reader. It runs the
// handshake on a connected socket (TCP or TLS), then carries requests (TRACK_DATA, TRACK_ZERO,
// TRACK_BATCH, TRACK_PIECE, PING, ...) and their replies (ACK, NACK, PONG) both ways, pipelined within a bounded window. Any
// protocol violation (garbage, an oversized or unknown frame, a reply to nothing, a peer past its
// window) closes the connection with one log line; it never throws into the process.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { ErrorCode } from "../errors/codes.js";
import { GsnapError } from "../errors/gsnap-error.js";
import { carriesSums } from "./batch-codec.js";
import { answerWithDamage, type BatchDamage, splitDamaged } from "./batch-damage.js";
import { encodeFrame, encodeFrameParts } from "./frame-codec.js";
import {
  BATCH_VERSION,
  type Frame,
  type FrameTypeName,
  isReplyFrame,
  isRequestFrame,
  MAX_BATCH_PAYLOAD_BYTES,
  NackReason,
  NONCE_BYTES,
  PIECE_VERSION,
  type ReplyFrame,
  type RequestFrame,
  SUMS_VERSION,
  type TrackBatchFrame,
} from "./frame-types.js";
import { type HandshakeStep, LinkHandshake, type LinkSession } from "./handshake.js";
import type { LinkLogger } from "./link-logger.js";
import type { LinkSecret } from "./link-secrets.js";
import { SlabPool } from "./slab-pool.js";
import { SocketReads } from "./socket-reads.js";
import { StreamFrameReader } from "./stream-frame-reader.js";
import { trackChecksum } from "./track-checksum.js";

/**
 * Requests one side may have unanswered at once: the window. A receiver stores tracks in batches
 * that gather while the store is busy, and a 3390 track (56 KiB) takes the store about as long
 * to write as the loopback takes to carry 20; so a few hundred in flight keep both ends busy.
 */
export const MAX_FRAMES_IN_FLIGHT = 512;

/**
 * Track bytes (TRACK_DATA data) one side may have unanswered at once, which bounds what a peer
 * can make us buffer per connection: 32 MiB is 585 tracks of 3390 geometry or 32 of 1 MiB, and
 * still fills a 10 Gb/s path with 25 ms of round trip. A single track larger than what is left
 * goes when nothing else is in flight.
 */
export const MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

/** What a request counts against MAX_BYTES_IN_FLIGHT: the track bytes it carries. */
function windowBytes(request: RequestBody): number {
  if (request.type === "TRACK_DATA") return request.data.length;
  if (request.type === "TRACK_PIECE") return request.data?.length ?? 0;
  if (request.type !== "TRACK_BATCH") return 0;
  let bytes = 0;
  for (const track of request.tracks) bytes += track.data?.length ?? 0;
  return bytes;
}

/**
 * Received TRACK_BATCH payloads are copied into slabs of this pool, shared by every connection of
 * the process. 12 spare slabs (48 MiB) are one and a half connection windows: enough that a busy
 * receiver allocates none in the steady state, few enough to keep an idle daemon small.
 */
const MAX_SPARE_SLABS = 12;
const batchSlabs = new SlabPool(MAX_BATCH_PAYLOAD_BYTES, MAX_SPARE_SLABS);

/** TRACK_BATCH payloads go into slabs of the pool; other payloads into buffers of their own. */
function allocatePayload(type: FrameTypeName): Buffer | undefined {
  return type === "TRACK_BATCH" ? batchSlabs.take() : undefined;
}

/** Reads for a socket made with `onread` (socket-reads.ts): TRACK_BATCH straight into slabs. */
export function linkReads(): SocketReads {
  return new SocketReads(new StreamFrameReader(allocatePayload));
}

/** A request of the peer not answered yet. */
interface Unanswered {
  /** Its window bytes. */
  readonly bytes: number;
  /** The slab its payload was copied into: back to the pool once it is answered. */
  readonly slab: Buffer | undefined;
  /** The tracks of a TRACK_BATCH that arrived damaged: added to its answer. */
  readonly damage: BatchDamage | undefined;
}

/** Whether a TRACK_DATA or a data TRACK_PIECE arrived with bytes that do not match its checksum. */
function isDamaged(frame: RequestFrame): boolean {
  if (frame.type === "TRACK_DATA") return trackChecksum(frame.data) !== frame.checksum;
  if (frame.type !== "TRACK_PIECE" || frame.data === undefined) return false;
  return trackChecksum(frame.data) !== frame.checksum;
}

/** A peer that has not finished the handshake in this time is dropped: it holds a socket. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Request ids count up from 1 and wrap before they leave the u32 of the header. */
const MAX_REQUEST_ID = 0xffff_ffff;

type Unsent<T> = T extends unknown ? Omit<T, "requestId"> : never;
export type RequestBody = Unsent<RequestFrame>;

export interface LinkConnectionOptions {
  readonly role: "initiator" | "responder";
  readonly secret: LinkSecret;
  readonly serial: string;
  readonly ssids?: readonly string[];
  readonly expectSerial?: string;
  readonly versions?: readonly number[];
  /** Responder: the serial the peer's TLS client certificate names (handshake.ts). */
  readonly certifiedSerial?: string;
  readonly logger: LinkLogger;
  readonly handshakeTimeoutMs?: number;
  /** Told when the handshake times out (the listener counts it), before the connection closes. */
  readonly onHandshakeTimeout?: () => void;
}

interface Pending {
  readonly bytes: number;
  resolve(reply: ReplyFrame): void;
  reject(error: Error): void;
}

export class LinkConnection {
  private session: LinkSession | undefined;
  private readonly reader: StreamFrameReader;
  private readonly pending = new Map<number, Pending>();
  private readonly windowWaiters: (() => void)[] = [];
  private pendingBytes = 0;
  private corked = false;
  /** Requests the peer sent that we have not answered yet, with their window bytes. */
  private readonly unanswered = new Map<number, Unanswered>();
  private unansweredBytes = 0;
  private readonly received: RequestFrame[] = [];
  private receivedWaiter: (() => void) | undefined;
  private nextRequestId = 1;
  private closeError: GsnapError | undefined;
  private settleHandshake: ((error?: GsnapError) => void) | undefined;
  readonly peerAddress: string;

  private constructor(
    private readonly socket: Socket,
    private readonly options: LinkConnectionOptions,
    private readonly reads: SocketReads | undefined,
  ) {
    this.peerAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.reader = reads?.reader ?? new StreamFrameReader(allocatePayload);
  }

  /**
   * Runs the handshake on a connected socket; resolves with an authenticated connection. A socket
   * made to read through `reads` (linkReads()) delivers its bytes there; any other, as 'data'.
   */
  static establish(
    socket: Socket,
    options: LinkConnectionOptions,
    reads?: SocketReads,
  ): Promise<LinkConnection> {
    // Replies are 16-byte frames: with Nagle on, each waits for the TCP acknowledgement of the one
    // before, and the peer delays those by up to 40 ms; pipelining needs them sent at once.
    socket.setNoDelay(true);
    const connection = new LinkConnection(socket, options, reads);
    return connection.runHandshake();
  }

  /** What the handshake agreed on. */
  get linkSession(): LinkSession {
    assert.ok(this.session !== undefined, "the session is read after the handshake");
    return this.session;
  }

  /** This system's serial, as the handshake named it to the peer. */
  get localSerial(): string {
    return this.options.serial;
  }

  /** Whether the peer takes TRACK_BATCH (the protocol version agreed is BATCH_VERSION or later). */
  get carriesBatches(): boolean {
    return this.linkSession.version >= BATCH_VERSION;
  }

  /** Whether the peer takes TRACK_PIECE (the protocol version agreed is PIECE_VERSION or later). */
  get carriesPieces(): boolean {
    return this.linkSession.version >= PIECE_VERSION;
  }

  /**
   * Whether the peer takes block checksums in a TRACK_BATCH (the protocol version agreed is
   * SUMS_VERSION or later).
   */
  get carriesBlockSums(): boolean {
    return this.linkSession.version >= SUMS_VERSION;
  }

  /** Bytes written to and read from the socket, handshake included. */
  get bytesSent(): number {
    return this.socket.bytesWritten;
  }

  get bytesReceived(): number {
    return this.socket.bytesRead;
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  private runHandshake(): Promise<LinkConnection> {
    const handshake = new LinkHandshake({
      role: this.options.role,
      secret: this.options.secret,
      serial: this.options.serial,
      ssids: this.options.ssids,
      expectSerial: this.options.expectSerial,
      versions: this.options.versions,
      certifiedSerial: this.options.certifiedSerial,
      nonce: randomBytes(NONCE_BYTES),
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.options.onHandshakeTimeout?.();
        this.close("LINK_PROTOCOL", "Cannot establish link: the handshake timed out");
      }, this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
      this.settleHandshake = (error) => {
        clearTimeout(timer);
        this.settleHandshake = undefined;
        if (error === undefined) resolve(this);
        else reject(error);
      };
      if (this.reads === undefined) {
        this.socket.on("data", (chunk: Buffer) => {
          this.reader.push(chunk);
          this.takeFrames(handshake);
        });
      } else {
        this.reads.onRead(() => this.takeFrames(handshake));
      }
      this.socket.on("error", (error) => this.close("LINK_DOWN", `Link socket failed: ${error}`));
      this.socket.on("close", () => this.close("LINK_DOWN", "Link closed by the peer"));
      this.apply(handshake.start());
      // A socket that reads through `reads` may have read before we listened: take what it has.
      if (this.reads !== undefined) this.takeFrames(handshake);
    });
  }

  private takeFrames(handshake: LinkHandshake): void {
    while (!this.isClosed) {
      const result = this.reader.next();
      if (result.status === "incomplete") return;
      if (result.status === "failure") {
        this.close("LINK_PROTOCOL", result.failure.message);
        return;
      }
      if (this.session === undefined) this.apply(handshake.receive(result.frame));
      else this.dispatch(result.frame, result.copiedInto);
    }
  }

  private apply(step: HandshakeStep): void {
    for (const frame of step.send) this.socket.write(encodeFrame(frame));
    const outcome = step.outcome;
    if (outcome === undefined) return;
    if (outcome.kind === "failed") {
      this.close(outcome.code, outcome.message);
      return;
    }
    this.session = outcome.session;
    this.reader.admitLargePayloads();
    this.options.logger.info(
      {
        peer: this.peerAddress,
        peerSerial: outcome.session.peerSerial,
        version: outcome.session.version,
      },
      "link established",
    );
    this.settleHandshake?.();
  }

  private dispatch(frame: Frame, slab: Buffer | undefined): void {
    if (isReplyFrame(frame)) {
      const pending = this.pending.get(frame.requestId);
      if (pending === undefined) {
        this.close(
          "LINK_PROTOCOL",
          `Cannot take ${frame.type}: request ${frame.requestId} is not in flight`,
        );
        return;
      }
      this.pending.delete(frame.requestId);
      this.pendingBytes -= pending.bytes;
      this.windowWaiters.shift()?.();
      pending.resolve(frame);
      return;
    }
    if (!isRequestFrame(frame)) {
      this.close("LINK_PROTOCOL", `Cannot take ${frame.type}: the handshake is over`);
      return;
    }
    if (this.unanswered.has(frame.requestId)) {
      this.close(
        "LINK_PROTOCOL",
        `Cannot take ${frame.type}: request ${frame.requestId} is in flight`,
      );
      return;
    }
    if (
      (frame.type === "TRACK_BATCH" && !this.carriesBatches) ||
      (frame.type === "TRACK_PIECE" && !this.carriesPieces)
    ) {
      this.close(
        "LINK_PROTOCOL",
        `Cannot take ${frame.type}: protocol version ${this.linkSession.version} has none`,
      );
      return;
    }
    if (frame.type === "TRACK_BATCH" && !this.carriesBlockSums && carriesSums(frame.tracks)) {
      this.close(
        "LINK_PROTOCOL",
        `Cannot take TRACK_BATCH with block checksums: protocol version ${this.linkSession.version} has none`,
      );
      return;
    }
    const bytes = windowBytes(frame);
    if (
      this.unanswered.size >= MAX_FRAMES_IN_FLIGHT ||
      (this.unanswered.size > 0 && this.unansweredBytes + bytes > MAX_BYTES_IN_FLIGHT)
    ) {
      this.close(
        "LINK_PROTOCOL",
        `Cannot take ${frame.type}: past the window of ${MAX_FRAMES_IN_FLIGHT} requests and ` +
          `${MAX_BYTES_IN_FLIGHT} bytes in flight`,
      );
      return;
    }
    this.unansweredBytes += bytes;
    if (frame.type === "TRACK_BATCH") {
      this.dispatchBatch(frame, { bytes, slab, damage: undefined });
      return;
    }
    this.unanswered.set(frame.requestId, { bytes, slab, damage: undefined });
    if (isDamaged(frame)) {
      // Damaged on the way: ask for the track (or piece) again before anyone can store it.
      this.send({ type: "NACK", requestId: frame.requestId, reason: NackReason.CHECKSUM_MISMATCH });
      return;
    }
    this.received.push(frame);
    this.receivedWaiter?.();
  }

  /** Hands on the sound tracks of a batch; its damaged ones are added to the answer. */
  private dispatchBatch(frame: TrackBatchFrame, entry: Unanswered): void {
    const { sound, damage } = splitDamaged(frame);
    this.unanswered.set(frame.requestId, { ...entry, damage });
    if (sound === undefined) {
      assert.ok(damage !== undefined, "a batch with no sound track has damaged ones");
      this.socket.write(encodeFrame(this.settle(frame.requestId, undefined)));
      return;
    }
    this.received.push(sound);
    this.receivedWaiter?.();
  }

  /**
   * Forgets an answered request, giving its slab back, and returns its answer with the damaged
   * tracks of a batch added.
   */
  private settle(requestId: number, reply: ReplyFrame | undefined): ReplyFrame {
    const entry = this.unanswered.get(requestId);
    assert.ok(entry !== undefined, "a reply answers a request in flight");
    this.unanswered.delete(requestId);
    this.unansweredBytes -= entry.bytes;
    if (entry.slab !== undefined) batchSlabs.give(entry.slab);
    if (entry.damage === undefined) {
      assert.ok(reply !== undefined, "a request with no damage has its handler's answer");
      return reply;
    }
    return answerWithDamage(reply, entry.damage, requestId);
  }

  /** Sends a request when the window has room; resolves with the peer's ACK, NACK or PONG. */
  async request(body: RequestBody): Promise<ReplyFrame> {
    const bytes = windowBytes(body);
    // Waiters go in order: each one let in wakes the next while there is room.
    if (this.windowWaiters.length > 0 || !this.roomFor(bytes)) {
      await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
      // Woken by a reply that freed too few bytes for this track: it keeps its place in line.
      while (!this.roomFor(bytes) && !this.isClosed) {
        await new Promise<void>((resolve) => this.windowWaiters.unshift(resolve));
      }
    }
    if (this.closeError !== undefined) throw this.closeError;
    const requestId = this.nextRequestId;
    this.nextRequestId = requestId === MAX_REQUEST_ID ? 1 : requestId + 1;
    const reply = new Promise<ReplyFrame>((resolve, reject) => {
      this.pending.set(requestId, { bytes, resolve, reject });
    });
    this.pendingBytes += bytes;
    const parts = encodeFrameParts({ ...body, requestId } as RequestFrame);
    if (parts.length === 1) this.socket.write(parts[0]);
    else {
      this.socket.cork();
      for (const part of parts) this.socket.write(part);
      this.socket.uncork();
    }
    if (this.roomFor(0)) this.windowWaiters.shift()?.();
    return reply;
  }

  private roomFor(bytes: number): boolean {
    if (this.pending.size >= MAX_FRAMES_IN_FLIGHT) return false;
    return this.pending.size === 0 || this.pendingBytes + bytes <= MAX_BYTES_IN_FLIGHT;
  }

  /**
   * Sends the reply (ACK, NACK, PONG) to a request the peer sent. Returns false when the
   * connection has closed meanwhile: the reply is dropped and the peer's request fails there.
   */
  send(frame: Frame): boolean {
    if (this.closeError !== undefined) return false;
    assert.ok(isReplyFrame(frame), "send() carries replies; requests go through request()");
    const answer = this.settle(frame.requestId, frame);
    this.corkUntilNextTick();
    this.socket.write(encodeFrame(answer));
    return true;
  }

  /**
   * Gathers the replies of one turn of the event loop into one socket write: a receiver that
   * stores a batch of tracks answers them all at once, and 16-byte writes one by one cost a
   * system call each.
   */
  private corkUntilNextTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  /**
   * The peer's requests, in order, until the connection closes; one consumer at a time. Answer
   * each with send(). TRACK_DATA or TRACK_PIECE whose checksum does not match never appears
   * here: the connection answers it with NACK (checksum mismatch) itself.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<RequestFrame> {
    while (true) {
      const frame = this.received.shift();
      if (frame !== undefined) {
        yield frame;
        continue;
      }
      if (this.isClosed) return;
      await new Promise<void>((resolve) => {
        this.receivedWaiter = resolve;
      });
      this.receivedWaiter = undefined;
    }
  }

  /** Closes the connection once, logging why; requests in flight fail with the reason. */
  close(code: ErrorCode = "LINK_DOWN", message = "Link closed locally"): void {
    if (this.closeError !== undefined) return;
    const error = new GsnapError(code, message);
    this.closeError = error;
    const level = code === "LINK_DOWN" ? "info" : "warn";
    this.options.logger[level]({ peer: this.peerAddress, code }, `link closed: ${message}`);
    if (this.settleHandshake !== undefined) {
      this.settleHandshake(error);
      // Let a REFUSE reach the peer before the socket goes.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else {
      this.socket.destroy();
    }
    const inFlight =
      code === "LINK_DOWN" ? error : new GsnapError("LINK_DOWN", message, { cause: error });
    for (const pending of this.pending.values()) pending.reject(inFlight);
    this.pending.clear();
    this.pendingBytes = 0;
    for (const waiter of this.windowWaiters.splice(0)) waiter();
    this.receivedWaiter?.();
  }
}
