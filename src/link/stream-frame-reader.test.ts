// The stream frame reader against the codec: whatever sizes the socket's reads come in, it gives
// back the frames that were encoded, reads big payloads straight into their own buffers, and
// fails for good on a bad header.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrame } from "./frame-codec.js";
import type { Frame } from "./frame-types.js";
import { StreamFrameReader } from "./stream-frame-reader.js";

/** Feeds `bytes` to the reader as socket reads of at most the given sizes; returns the frames. */
function readAll(reader: StreamFrameReader, bytes: Buffer, sizes: readonly number[]): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i += 1) {
    const into = reader.readBuffer();
    const size = Math.min(into.length, bytes.length - at, Math.max(1, sizes[i % sizes.length]));
    bytes.copy(into, 0, at, at + size);
    at += size;
    reader.filled(size);
    for (let result = reader.next(); result.status === "frame"; result = reader.next()) {
      frames.push(result.frame);
    }
  }
  return frames;
}

const batch = (dataBytes: number): Frame => ({
  type: "TRACK_BATCH",
  requestId: 3,
  volser: "VOL001",
  tracks: [
    { trackNumber: 1, checksum: 9n, data: Buffer.alloc(dataBytes, 7) },
    { trackNumber: 2, checksum: 0n, data: undefined },
  ],
});

const frameArbitrary: fc.Arbitrary<Frame> = fc.oneof(
  fc.constant<Frame>({ type: "ACK", requestId: 1 }),
  fc.constant<Frame>({ type: "PING", requestId: 2 }),
  fc.integer({ min: 1, max: 40_000 }).map(batch),
  fc.uint8Array({ maxLength: 3000 }).map(
    (data): Frame => ({
      type: "TRACK_DATA",
      requestId: 4,
      volser: "V",
      trackNumber: 5,
      checksum: 6n,
      data: Buffer.from(data),
    }),
  ),
);

describe("stream frame reader", () => {
  it("gives back the frames encoded, however the reads are cut", () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 7, max: 70_000 }), { minLength: 1, maxLength: 10 }),
        (frames, sizes) => {
          const bytes = Buffer.concat(frames.map(encodeFrame));
          const reader = new StreamFrameReader();
          reader.admitLargePayloads();
          expect(readAll(reader, bytes, sizes)).toEqual(frames);
          // The same stream in chunks the socket read itself (TLS): the same frames.
          const pushed = new StreamFrameReader();
          pushed.admitLargePayloads();
          const frames2: Frame[] = [];
          for (let at = 0, i = 0; at < bytes.length; i += 1) {
            const size = sizes[i % sizes.length];
            pushed.push(bytes.subarray(at, at + size));
            at += size;
            for (let result = pushed.next(); result.status === "frame"; result = pushed.next()) {
              frames2.push(result.frame);
            }
          }
          expect(frames2).toEqual(frames);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("reads the rest of a big payload straight into the buffer allocated for it", () => {
    const slab = Buffer.alloc(1024 * 1024);
    const reader = new StreamFrameReader((type) => (type === "TRACK_BATCH" ? slab : undefined));
    reader.admitLargePayloads();
    const bytes = encodeFrame(batch(500_000));
    let direct = 0;
    let at = 0;
    while (at < bytes.length) {
      const into = reader.readBuffer();
      if (into.buffer === slab.buffer) direct += 1;
      const size = Math.min(into.length, bytes.length - at);
      bytes.copy(into, 0, at, at + size);
      at += size;
      reader.filled(size);
    }
    const result = reader.next();
    expect(result.status).toBe("frame");
    expect(result.status === "frame" && result.copiedInto === slab).toBe(true);
    // The first read went through the scratch; the rest of the payload went into the slab.
    expect(direct).toBeGreaterThan(0);
    if (result.status === "frame" && result.frame.type === "TRACK_BATCH") {
      expect(result.frame.tracks[0].data?.buffer).toBe(slab.buffer);
    }
  });

  it("refuses a payload larger than a handshake frame's until the handshake is over", () => {
    const big = encodeFrame(batch(4096));
    const early = new StreamFrameReader((_type, bytes) => {
      expect.fail(`allocated ${bytes} bytes for a peer that has not authenticated`);
    });
    early.push(big);
    expect(early.next()).toMatchObject({ status: "failure", failure: { kind: "oversized" } });
    const later = new StreamFrameReader();
    later.admitLargePayloads();
    later.push(big);
    expect(later.next().status).toBe("frame");
  });

  it("fails for good on a bad magic", () => {
    const reader = new StreamFrameReader();
    const into = reader.readBuffer();
    Buffer.alloc(16, 0xee).copy(into);
    reader.filled(16);
    expect(reader.next()).toMatchObject({ status: "failure", failure: { kind: "bad-magic" } });
    reader.filled(5);
    expect(reader.next().status).toBe("failure");
  });
});
