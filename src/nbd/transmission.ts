// Runs the requests of one connection's transmission phase against the store. Requests start in
// the order they arrive and run concurrently; each reply goes out when its request is done, so
// replies may leave out of order. Store calls are issued in arrival order without waiting for one
// another: the store runs its changes in the order they were called, so writes to overlapping
// ranges land in the order the client sent them.
//
// Contiguous writes that arrive together are merged into one store call (write-batch.ts): the
// store writes a few MiB per call about twice as fast as 256 KiB (fewer partial tracks and
// transactions), and sequential copiers such as nbdcopy send 256 KiB requests back to back.
//
// A request counts as in flight from the moment it is parsed until its reply has left for the
// socket; the connection reads no more requests while too many are (see connection.ts).

import assert from "node:assert/strict";
import { isGsnapError } from "../errors/gsnap-error.js";
import { allocationExtents, tracksOf } from "./block-status.js";
import { BufferPool, HEADER_ROOM_BYTES } from "./buffer-pool.js";
import { Errno, errnoOf } from "./errno.js";
import type { Session } from "./handshake.js";
import type { HostVolumes } from "./host-volumes.js";
import type { NbdLogger, NbdObserver } from "./observer.js";
import { BASE_ALLOCATION_ID, Command, CommandFlag } from "./protocol.js";
import type { ReceiveBuffer } from "./receive-buffer.js";
import { checkRequest, commandName } from "./request-check.js";
import {
  encodeBlockStatusChunk,
  encodeErrorChunk,
  encodeReadChunkHeader,
  encodeSimpleReply,
  READ_CHUNK_HEADER_BYTES,
  type Request,
  SIMPLE_REPLY_BYTES,
} from "./transmission-codec.js";
import { type StoreWrite, WriteBatch } from "./write-batch.js";

assert.ok(READ_CHUNK_HEADER_BYTES <= HEADER_ROOM_BYTES, "the pool counts a read's header as room");

/** Where replies go: the parts of one reply are sent together and in order. */
export interface ReplySink {
  /** `sent` runs once, when the parts have left for the peer or can no longer be sent. */
  send(parts: readonly Buffer[], sent: () => void): void;
}

/** The commands whose `bytes` the observer sees: those that cover a range of the export. */
const RANGE_COMMANDS: ReadonlySet<number> = new Set([
  Command.READ,
  Command.WRITE,
  Command.TRIM,
  Command.WRITE_ZEROES,
  Command.BLOCK_STATUS,
]);

export interface Running {
  readonly request: Request;
  readonly startedMs: number;
  /** Bytes this request holds in memory: its write payload or its read data. */
  readonly heldBytes: number;
  /** Gives back what the request borrowed (a read buffer) once its reply has left. */
  release?: () => void;
}

export class Transmission {
  private readonly store: HostVolumes;
  private readonly session: Session;
  private readonly sink: ReplySink;
  private readonly observer: NbdObserver | undefined;
  private readonly logger: NbdLogger;
  private readonly volser: string;
  private readonly batch: WriteBatch<Running>;
  private readonly readBuffers = new BufferPool();
  private idleWaiters: (() => void)[] = [];
  inFlightRequests = 0;
  inFlightBytes = 0;
  /** Called after each request leaves flight: the connection may read again. */
  onSettled: () => void = () => {};

  constructor(options: {
    store: HostVolumes;
    session: Session;
    sink: ReplySink;
    observer?: NbdObserver;
    logger: NbdLogger;
  }) {
    this.store = options.store;
    this.session = options.session;
    this.sink = options.sink;
    this.observer = options.observer;
    this.logger = options.logger;
    this.volser = options.session.export.name;
    this.batch = new WriteBatch((write) => this.write(write));
  }

  /** Starts a request other than a WRITE. */
  run(request: Request): void {
    const running = this.admit(request, request.type === Command.READ ? request.lengthBytes : 0);
    const refusal = checkRequest(request, this.session);
    if (refusal !== undefined) {
      this.fail(running, refusal.errno, refusal.message);
      return;
    }
    // Whatever the batch holds arrived first, so it goes to the store first.
    this.batch.flush();
    try {
      this.start(running);
    } catch (error) {
      this.failWith([running], error);
    }
  }

  /** Starts a WRITE whose payload is the next `lengthBytes` of `input`, and consumes it. */
  runWrite(request: Request, input: ReceiveBuffer): void {
    const running = this.admit(request, request.lengthBytes);
    const refusal = checkRequest(request, this.session);
    if (refusal !== undefined) {
      input.skip(request.lengthBytes);
      this.fail(running, refusal.errno, refusal.message);
      return;
    }
    this.batch.add(running, input);
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    this.batch.flush();
    if (this.inFlightRequests === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private admit(request: Request, heldBytes: number): Running {
    this.inFlightRequests += 1;
    this.inFlightBytes += heldBytes;
    return { request, startedMs: performance.now(), heldBytes };
  }

  private start(running: Running): void {
    const { request } = running;
    const range = { offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes };
    switch (request.type) {
      case Command.READ: {
        // One pooled buffer holds the reply's header and then its data: the reply leaves as one
        // piece, and nothing is allocated for it.
        const headerBytes = this.session.structuredReplies
          ? READ_CHUNK_HEADER_BYTES
          : SIMPLE_REPLY_BYTES;
        const pooled = this.readBuffers.take(HEADER_ROOM_BYTES + range.lengthBytes);
        running.release = () => this.readBuffers.give(pooled);
        const buffer = pooled.subarray(HEADER_ROOM_BYTES - headerBytes);
        const into = pooled.subarray(HEADER_ROOM_BYTES);
        this.store.read(this.volser, range, into).then(
          (data) => this.replyRead(running, { buffer, headerBytes, data }),
          (error) => this.failWith([running], error),
        );
        return;
      }
      case Command.BLOCK_STATUS:
        this.replyBlockStatus(running);
        return;
      case Command.TRIM:
      case Command.WRITE_ZEROES:
        // NO_HOLE needs nothing more: zeros always read back as zeros, and the store gives the
        // space of a whole zero track back either way.
        this.complete([running], this.durable(this.store.zero(this.volser, range), request));
        return;
      default:
        this.complete([running], this.store.flush());
    }
  }

  /** One store write for a run of contiguous WRITE requests, each replied to when it lands. */
  private write(write: StoreWrite<Running>): void {
    const done = this.store.write(this.volser, {
      offsetBytes: write.offsetBytes,
      data: write.data,
    });
    // The store keeps nothing of `data` once the write has settled: its buffer can be reused.
    const recycle = () => this.batch.recycle(write);
    done.then(recycle, recycle);
    const fua = write.writes.some((running) => (running.request.flags & CommandFlag.FUA) !== 0);
    this.complete(write.writes, fua ? done.then(() => this.store.flush()) : done);
  }

  /** With FUA, the reply waits until the change is durable. */
  private durable(done: Promise<void>, request: Request): Promise<void> {
    return (request.flags & CommandFlag.FUA) === 0 ? done : done.then(() => this.store.flush());
  }

  private complete(runnings: readonly Running[], done: Promise<void>): void {
    done.then(
      () => {
        for (const running of runnings) {
          const handle = running.request.handle;
          this.reply(running, [encodeSimpleReply({ error: 0, handle })], true);
        }
      },
      (error) => this.failWith(runnings, error),
    );
  }

  /** Replies to a read whose data is in `buffer` after `headerBytes` (or, if not, in `data`). */
  private replyRead(
    running: Running,
    read: { buffer: Buffer; headerBytes: number; data: Buffer },
  ): void {
    const { buffer, headerBytes, data } = read;
    const { handle, offsetBytes } = running.request;
    const inPlace =
      data.buffer === buffer.buffer && data.byteOffset === buffer.byteOffset + headerBytes;
    const header = inPlace ? buffer.subarray(0, headerBytes) : Buffer.allocUnsafe(headerBytes);
    if (this.session.structuredReplies) {
      encodeReadChunkHeader({ handle, offsetBytes, dataBytes: data.length }, header);
    } else {
      encodeSimpleReply({ error: 0, handle }, header);
    }
    this.reply(running, inPlace ? [buffer] : [header, data], true);
  }

  private replyBlockStatus(running: Running): void {
    const { request } = running;
    const window = { offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes };
    const trackSizeBytes = this.session.export.trackSizeBytes;
    const runs = this.store.allocation(this.volser, tracksOf(window, trackSizeBytes));
    const extents = allocationExtents({
      runs,
      trackSizeBytes,
      window,
      reqOne: (request.flags & CommandFlag.REQ_ONE) !== 0,
    });
    const chunk = encodeBlockStatusChunk({
      handle: request.handle,
      contextId: BASE_ALLOCATION_ID,
      extents,
    });
    this.reply(running, [chunk], true);
  }

  /** Translates a store failure to its errno (the one place this happens for NBD). */
  private failWith(runnings: readonly Running[], error: unknown): void {
    const errno = errnoOf(error);
    const name = commandName(runnings[0].request.type);
    const message = isGsnapError(error) ? error.message : `Cannot ${name}: internal error`;
    if (errno === Errno.EIO || errno === Errno.ENOSPC) {
      const requests = runnings.length;
      this.logger.warn({ err: error, volser: this.volser, op: name, errno, requests }, message);
    }
    for (const running of runnings) this.fail(running, errno, message);
  }

  private fail(running: Running, errno: number, message: string): void {
    const { handle } = running.request;
    const reply = this.session.structuredReplies
      ? encodeErrorChunk({ handle, error: errno, message })
      : encodeSimpleReply({ error: errno, handle });
    this.reply(running, [reply], false);
  }

  private reply(running: Running, parts: Buffer[], ok: boolean): void {
    const { request } = running;
    const bytes = RANGE_COMMANDS.has(request.type) ? request.lengthBytes : 0;
    const seconds = (performance.now() - running.startedMs) / 1000;
    try {
      this.observer?.request(commandName(request.type), bytes, seconds, ok);
    } catch (error) {
      this.logger.warn({ err: error }, "Cannot report an NBD request to the observer: it threw");
    }
    this.sink.send(parts, () => this.settle(running));
  }

  private settle(running: Running): void {
    assert.ok(this.inFlightRequests > 0, "a settled request was in flight");
    assert.ok(this.inFlightBytes >= running.heldBytes, "a settled request's bytes were counted");
    this.inFlightRequests -= 1;
    this.inFlightBytes -= running.heldBytes;
    running.release?.();
    if (this.inFlightRequests === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
    this.onSettled();
  }
}
