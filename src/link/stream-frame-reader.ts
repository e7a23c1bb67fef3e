// Turns the byte stream of one link connection into frames, for a socket that reads into buffers
// we give it (Node's `onread`) rather than allocating a fresh 64 KiB buffer for every read. Two
// places to read into: a scratch buffer, reused for every read, for headers and small frames; and,
// once a header says a big payload (a TRACK_BATCH of megabytes) is coming, the rest of that
// payload's own buffer (a pooled slab), so that its bytes go from the kernel straight to where
// they are stored from. Nothing is allocated per read, and the bulk of a copy is never copied in
// user space. Every frame's payload is its own buffer: nothing refers to the scratch once a read
// has been taken in. Pure: no I/O; the socket asks readBuffer() and reports filled(), or (a TLS
// socket, which cannot read into our buffers) hands whole chunks to push().
//
// Until the handshake is over, a payload may be no larger than a handshake frame's: a peer that
// has not authenticated must not make us set aside megabytes with a 16-byte header.
//
// States: awaiting the header (headerFilled of 16 bytes) -> filling the payload (payloadFilled
// of its length) -> a frame, then the header again; a failure (a bad header or payload) is final.

import assert from "node:assert/strict";
import { decodeFrameHeader, decodePayload, type FrameHeader } from "./frame-codec.js";
import {
  FRAME_HEADER_BYTES,
  type Frame,
  type FrameFailure,
  type FrameTypeName,
  MAX_REASON_TEXT_BYTES,
} from "./frame-types.js";

export type ReadResult =
  | {
      readonly status: "frame";
      readonly frame: Frame;
      /** The buffer `allocate` gave for the payload, when it gave one. */
      readonly copiedInto?: Buffer;
    }
  | { readonly status: "incomplete" }
  | { readonly status: "failure"; readonly failure: FrameFailure };

/**
 * The largest payload before the handshake is over: a REFUSE with its longest text (2 + 2 +
 * 1,024 bytes) is the largest handshake frame; HELLO is at most 550.
 */
export const MAX_HANDSHAKE_PAYLOAD_BYTES = 4 + MAX_REASON_TEXT_BYTES;

/**
 * The scratch buffer: one socket read of headers and small frames. 64 KiB is what Node reads
 * into by default; replies are 16 bytes, so hundreds fit one read.
 */
const SCRATCH_BYTES = 64 * 1024;

/**
 * A payload with at least this much left is read straight into its buffer; less goes through the
 * scratch (with the frames behind it) rather than costing a read of its own.
 */
const DIRECT_MIN_BYTES = 16 * 1024;

export class StreamFrameReader {
  private readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  private readonly headerBytes = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private header: FrameHeader | undefined;
  /** The payload being filled (exactly its length), and the allocated buffer it is a view of. */
  private payload: Buffer | undefined;
  private given: Buffer | undefined;
  private payloadFilled = 0;
  /** Whether the last buffer handed out was the payload's rest (else the scratch). */
  private direct = false;
  private readonly frames: ReadResult[] = [];
  private failure: FrameFailure | undefined;
  private maxPayloadBytes = MAX_HANDSHAKE_PAYLOAD_BYTES;

  /**
   * @param allocate gives a buffer of at least `bytes` for a payload (a pooled slab), or
   *   undefined to let the reader allocate one of its own
   */
  constructor(
    private readonly allocate: (type: FrameTypeName, bytes: number) => Buffer | undefined = () =>
      undefined,
  ) {}

  /** The handshake is over: payloads may be as large as their frame type allows. */
  admitLargePayloads(): void {
    this.maxPayloadBytes = Number.POSITIVE_INFINITY;
  }

  /** Takes a chunk the socket read into a buffer of its own (a TLS socket's 'data'). */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.failure === undefined) {
      const into = this.readBuffer();
      const bytes = Math.min(into.length, chunk.length - at);
      chunk.copy(into, 0, at, at + bytes);
      at += bytes;
      this.filled(bytes);
    }
  }

  /** Where the next socket read should put its bytes. */
  readBuffer(): Buffer {
    const left = this.payload === undefined ? 0 : this.payload.length - this.payloadFilled;
    this.direct = this.payload !== undefined && left >= DIRECT_MIN_BYTES;
    if (this.direct && this.payload !== undefined) return this.payload.subarray(this.payloadFilled);
    return this.scratch;
  }

  /** The last read put `bytes` bytes into the buffer readBuffer() gave. */
  filled(bytes: number): void {
    if (this.failure !== undefined || bytes <= 0) return;
    if (this.direct) {
      assert.ok(this.payload !== undefined, "a direct read fills a payload");
      assert.ok(this.payloadFilled + bytes <= this.payload.length, "a read stays in its payload");
      this.payloadFilled += bytes;
      if (this.payloadFilled === this.payload.length) this.finishFrame();
      return;
    }
    let at = 0;
    while (at < bytes && this.failure === undefined) {
      if (this.header === undefined) at = this.takeHeader(at, bytes);
      else at = this.takePayload(at, bytes);
    }
  }

  /** The next whole frame, "incomplete" when more bytes are needed, or the failure that ends it. */
  next(): ReadResult {
    const frame = this.frames.shift();
    if (frame !== undefined) return frame;
    if (this.failure !== undefined) return { status: "failure", failure: this.failure };
    return { status: "incomplete" };
  }

  private takeHeader(at: number, end: number): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, end - at);
    this.scratch.copy(this.headerBytes, this.headerFilled, at, at + take);
    this.headerFilled += take;
    if (this.headerFilled < FRAME_HEADER_BYTES) return at + take;
    this.headerFilled = 0;
    const decoded = decodeFrameHeader(this.headerBytes);
    if (!decoded.ok) {
      this.failure = decoded.failure;
      return end;
    }
    const bytes = decoded.header.payloadBytes;
    if (bytes > this.maxPayloadBytes) {
      const message =
        `Cannot read ${decoded.header.type} frame: payload of ${bytes} bytes exceeds ` +
        `${this.maxPayloadBytes} before the handshake is over`;
      this.failure = { kind: "oversized", message };
      return end;
    }
    this.header = decoded.header;
    const given = bytes === 0 ? undefined : this.allocate(decoded.header.type, bytes);
    assert.ok(given === undefined || given.length >= bytes, "an allocated buffer fits");
    this.given = given;
    this.payload = given?.subarray(0, bytes) ?? Buffer.allocUnsafe(bytes);
    this.payloadFilled = 0;
    if (bytes === 0) this.finishFrame();
    return at + take;
  }

  private takePayload(at: number, end: number): number {
    assert.ok(this.payload !== undefined, "a header is followed by its payload");
    const take = Math.min(this.payload.length - this.payloadFilled, end - at);
    this.scratch.copy(this.payload, this.payloadFilled, at, at + take);
    this.payloadFilled += take;
    if (this.payloadFilled === this.payload.length) this.finishFrame();
    return at + take;
  }

  private finishFrame(): void {
    const { header, payload, given } = this;
    assert.ok(header !== undefined && payload !== undefined, "a frame has its header and payload");
    this.header = undefined;
    this.payload = undefined;
    this.given = undefined;
    this.payloadFilled = 0;
    const decoded = decodePayload(header, payload);
    if (!decoded.ok) {
      this.failure = decoded.failure;
      return;
    }
    this.frames.push(
      given === undefined
        ? { status: "frame", frame: decoded.frame }
        : { status: "frame", frame: decoded.frame, copiedInto: given },
    );
  }
}
