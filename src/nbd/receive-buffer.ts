// Bytes received on a connection and not yet parsed, kept as the list of buffers the socket gave
// us: appending is O(1) and nothing is concatenated until a message is taken. A message that lies
// inside one received buffer is returned as a view of it (no copy); one that spans buffers is
// copied once into a buffer of its own. Pure: no I/O.

import assert from "node:assert/strict";

/** Consumed buffers are dropped from the front of the list in batches of this many, not one by one. */
const COMPACT_AFTER_BUFFERS = 64;

export class ReceiveBuffer {
  private buffers: Buffer[] = [];
  /** Index of the first buffer with unconsumed bytes. */
  private first = 0;
  /** Bytes of buffers[first] already consumed. */
  private firstOffset = 0;
  private total = 0;

  /** Bytes received and not yet consumed. */
  get length(): number {
    return this.total;
  }

  push(buffer: Buffer): void {
    if (buffer.length === 0) return;
    this.buffers.push(buffer);
    this.total += buffer.length;
  }

  /** The first `count` bytes, not consumed: a view when they lie in one buffer, else a copy. */
  peek(count: number): Buffer {
    assert.ok(count <= this.total, `peek of ${count} bytes within the ${this.total} received`);
    const head = this.buffers[this.first];
    if (count === 0) return Buffer.alloc(0);
    if (head.length - this.firstOffset >= count) {
      return head.subarray(this.firstOffset, this.firstOffset + count);
    }
    const output = Buffer.allocUnsafe(count);
    let copied = 0;
    let index = this.first;
    let offset = this.firstOffset;
    while (copied < count) {
      const buffer = this.buffers[index];
      copied += buffer.copy(
        output,
        copied,
        offset,
        Math.min(buffer.length, offset + count - copied),
      );
      index += 1;
      offset = 0;
    }
    return output;
  }

  /** Consumes the first `count` bytes, copying them into `target` at `targetOffset`. */
  takeInto(target: Buffer, targetOffset: number, count: number): void {
    assert.ok(count <= this.total, `take of ${count} bytes within the ${this.total} received`);
    assert.ok(targetOffset + count <= target.length, "the bytes fit their target");
    let copied = 0;
    while (copied < count) {
      const buffer = this.buffers[this.first];
      const end = Math.min(buffer.length, this.firstOffset + count - copied);
      copied += buffer.copy(target, targetOffset + copied, this.firstOffset, end);
      this.skip(end - this.firstOffset);
    }
  }

  /** The first `count` bytes, consumed. */
  take(count: number): Buffer {
    const bytes = this.peek(count);
    this.skip(count);
    return bytes;
  }

  skip(count: number): void {
    assert.ok(count <= this.total, `skip of ${count} bytes within the ${this.total} received`);
    this.total -= count;
    let left = count;
    while (left > 0) {
      const available = this.buffers[this.first].length - this.firstOffset;
      if (left < available) {
        this.firstOffset += left;
        break;
      }
      left -= available;
      this.first += 1;
      this.firstOffset = 0;
    }
    this.compact();
  }

  private compact(): void {
    if (this.total === 0) {
      this.buffers = [];
      this.first = 0;
      this.firstOffset = 0;
      return;
    }
    if (this.first >= COMPACT_AFTER_BUFFERS) {
      this.buffers = this.buffers.slice(this.first);
      this.first = 0;
    }
  }
}
