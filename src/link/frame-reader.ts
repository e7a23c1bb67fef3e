// Turns the byte stream of one link connection into frames. Received chunks are kept as a list
// (appending is O(1)); a frame is copied out once when it spans chunks and is a view of its chunk
// when it does not. The header is checked as soon as its 16 bytes arrive, so an oversized length
// fails at once instead of making us buffer a megabyte of garbage. After a failure the reader
// stays failed: the connection must close. Pure: no I/O.

import { decodeFrameHeader, decodePayload, type FrameHeader } from "./frame-codec.js";
import { FRAME_HEADER_BYTES, type Frame, type FrameFailure } from "./frame-types.js";

/** Consumed chunks are dropped from the front of the list in batches of this many, not one by one. */
const COMPACT_AFTER_CHUNKS = 64;

export type ReadResult =
  | { readonly status: "frame"; readonly frame: Frame }
  | { readonly status: "incomplete" }
  | { readonly status: "failure"; readonly failure: FrameFailure };

export class FrameReader {
  private chunks: Buffer[] = [];
  private first = 0;
  private firstOffset = 0;
  private total = 0;
  private header: FrameHeader | undefined;
  private failure: FrameFailure | undefined;

  /** Bytes received and not yet taken into a frame. */
  get bufferedBytes(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.failure !== undefined) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next whole frame, "incomplete" when more bytes are needed, or the failure that ends it. */
  next(): ReadResult {
    if (this.failure !== undefined) return { status: "failure", failure: this.failure };
    if (this.header === undefined) {
      if (this.total < FRAME_HEADER_BYTES) return { status: "incomplete" };
      const decoded = decodeFrameHeader(this.take(FRAME_HEADER_BYTES));
      if (!decoded.ok) return this.fail(decoded.failure);
      this.header = decoded.header;
    }
    if (this.total < this.header.payloadBytes) return { status: "incomplete" };
    const header = this.header;
    this.header = undefined;
    const payload = decodePayload(header, this.take(header.payloadBytes));
    if (!payload.ok) return this.fail(payload.failure);
    return { status: "frame", frame: payload.frame };
  }

  private fail(failure: FrameFailure): ReadResult {
    this.failure = failure;
    this.chunks = [];
    this.first = 0;
    this.firstOffset = 0;
    this.total = 0;
    return { status: "failure", failure };
  }

  /** Consumes the first `count` bytes: a view when they lie in one chunk, else one copy. */
  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    const head = this.chunks[this.first];
    let output: Buffer;
    if (head.length - this.firstOffset >= count) {
      output = head.subarray(this.firstOffset, this.firstOffset + count);
      this.firstOffset += count;
    } else {
      output = Buffer.allocUnsafe(count);
      let copied = 0;
      while (copied < count) {
        const chunk = this.chunks[this.first];
        const end = Math.min(chunk.length, this.firstOffset + count - copied);
        copied += chunk.copy(output, copied, this.firstOffset, end);
        this.firstOffset = end;
        if (this.firstOffset === chunk.length) this.dropFirst();
      }
    }
    if (this.first < this.chunks.length && this.firstOffset === this.chunks[this.first].length) {
      this.dropFirst();
    }
    this.total -= count;
    this.compact();
    return output;
  }

  private dropFirst(): void {
    this.first += 1;
    this.firstOffset = 0;
  }

  private compact(): void {
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= COMPACT_AFTER_CHUNKS) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
