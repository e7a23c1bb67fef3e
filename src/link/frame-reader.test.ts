import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrame } from "./frame-codec.js";
import { FrameReader, type ReadResult } from "./frame-reader.js";
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  type Frame,
  FrameType,
  MAX_PAYLOAD_BYTES,
} from "./frame-types.js";

const FRAMES: Frame[] = [
  { type: "PING", requestId: 1 },
  {
    type: "TRACK_DATA",
    requestId: 2,
    volser: "VOL001",
    trackNumber: 9,
    checksum: 123n,
    data: Buffer.alloc(300, 3),
  },
  { type: "TRACK_ZERO", requestId: 3, volser: "VOL001", trackNumber: 10 },
  { type: "ACK", requestId: 2 },
];

function drain(reader: FrameReader): ReadResult[] {
  const results: ReadResult[] = [];
  for (;;) {
    const result = reader.next();
    if (result.status === "incomplete") return results;
    results.push(result);
    if (result.status === "failure") return results;
  }
}

describe("frame reader", () => {
  it("reads frames fed one byte at a time", () => {
    const reader = new FrameReader();
    const frames: Frame[] = [];
    for (const byte of Buffer.concat(FRAMES.map(encodeFrame))) {
      reader.push(Buffer.from([byte]));
      for (const result of drain(reader)) if (result.status === "frame") frames.push(result.frame);
    }
    expect(frames).toEqual(FRAMES);
    expect(reader.bufferedBytes).toBe(0);
  });

  it("reads frames however the stream is split into chunks", () => {
    const stream = Buffer.concat(FRAMES.map(encodeFrame));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 })), (cuts) => {
        const reader = new FrameReader();
        const frames: Frame[] = [];
        let start = 0;
        for (const cut of [...cuts.sort((a, b) => a - b), stream.length]) {
          reader.push(stream.subarray(start, cut));
          start = cut;
          for (const result of drain(reader))
            if (result.status === "frame") frames.push(result.frame);
        }
        expect(frames).toEqual(FRAMES);
      }),
      { numRuns: 300 },
    );
  });

  it("fails on an oversized length as soon as the header is in, and stays failed", () => {
    const reader = new FrameReader();
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(FRAME_MAGIC, 0);
    header.writeUInt8(1, 4);
    header.writeUInt8(FrameType.TRACK_DATA, 5);
    header.writeUInt32BE(MAX_PAYLOAD_BYTES + 1, 12);
    reader.push(header);
    expect(reader.next()).toMatchObject({ status: "failure", failure: { kind: "oversized" } });
    reader.push(encodeFrame({ type: "PING", requestId: 1 }));
    expect(reader.next()).toMatchObject({ status: "failure", failure: { kind: "oversized" } });
    expect(reader.bufferedBytes).toBe(0);
  });

  it("never throws on random chunks", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const reader = new FrameReader();
        for (const chunk of chunks) {
          reader.push(Buffer.from(chunk));
          drain(reader);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
