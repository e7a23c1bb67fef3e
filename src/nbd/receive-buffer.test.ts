import { describe, expect, it } from "vitest";
import { ReceiveBuffer } from "./receive-buffer.js";

function filled(length: number, start: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (start + i) & 0xff));
}

describe("receive buffer", () => {
  it("returns a message inside one received buffer as a view, without copying", () => {
    const received = filled(100, 0);
    const buffer = new ReceiveBuffer();
    buffer.push(received);
    const message = buffer.take(28);
    expect(message.buffer).toBe(received.buffer);
    expect(message.byteOffset).toBe(received.byteOffset);
    expect(buffer.length).toBe(72);
  });

  it("joins a message that spans received buffers, in order", () => {
    const buffer = new ReceiveBuffer();
    buffer.push(filled(10, 0));
    buffer.push(filled(5, 10));
    buffer.push(filled(20, 15));
    expect(buffer.peek(3)).toEqual(filled(3, 0));
    expect(buffer.take(12)).toEqual(filled(12, 0));
    expect(buffer.take(20)).toEqual(filled(20, 12));
    expect(buffer.length).toBe(3);
    expect(buffer.take(3)).toEqual(filled(3, 32));
    expect(buffer.length).toBe(0);
  });

  it("copies a payload into a target at an offset and consumes it", () => {
    const buffer = new ReceiveBuffer();
    for (let i = 0; i < 10; i += 1) buffer.push(filled(7, i * 7));
    const target = Buffer.alloc(80, 0xee);
    buffer.skip(3);
    buffer.takeInto(target, 5, 60);
    expect(target.subarray(5, 65)).toEqual(filled(60, 3));
    expect(target[4]).toBe(0xee);
    expect(target[65]).toBe(0xee);
    expect(buffer.take(7)).toEqual(filled(7, 63));
  });

  it("keeps its bookkeeping across many small pushes and takes", () => {
    const buffer = new ReceiveBuffer();
    let pushed = 0;
    let taken = 0;
    for (let round = 0; round < 500; round += 1) {
      buffer.push(filled(3, pushed));
      pushed += 3;
      if (round % 2 === 1) {
        expect(buffer.take(5)).toEqual(filled(5, taken));
        taken += 5;
      }
    }
    expect(buffer.length).toBe(pushed - taken);
    expect(buffer.take(buffer.length)).toEqual(filled(pushed - taken, taken));
  });

  it("ignores empty buffers", () => {
    const buffer = new ReceiveBuffer();
    buffer.push(Buffer.alloc(0));
    buffer.push(filled(2, 0));
    buffer.push(Buffer.alloc(0));
    expect(buffer.take(2)).toEqual(filled(2, 0));
  });
});
