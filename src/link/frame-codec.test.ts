import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_TRACK_SIZE_BYTES } from "../geometry/geometry.js";
import { splitDamaged } from "./batch-damage.js";
import { decodeFrame, encodeFrame, encodeFrameParts } from "./frame-codec.js";
import {
  type BatchTrack,
  ControlOp,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  type Frame,
  FrameType,
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_PAYLOAD_BYTES,
  MAX_BATCH_TRACKS,
  MAX_FRAME_BYTES,
  MAX_PAYLOAD_BYTES,
  NackReason,
  PairOpenOption,
  RefuseReason,
  WirePairMode,
  WirePairState,
  WireSuspendReason,
} from "./frame-types.js";

const EVERY_FRAME: Frame[] = [
  {
    type: "HELLO",
    requestId: 0,
    versions: [1, 2, 7],
    serial: "GS00001",
    expectSerial: "GS00002",
    ssids: ["0001", "00A1", "FFFF"],
  },
  { type: "HELLO", requestId: 0, versions: [1], serial: "A", expectSerial: "", ssids: [] },
  { type: "CHALLENGE", requestId: 0, nonce: Buffer.alloc(32, 7) },
  { type: "PROOF", requestId: 0, proof: Buffer.alloc(32, 9) },
  { type: "WELCOME", requestId: 0, version: 1 },
  { type: "REFUSE", requestId: 0, reason: RefuseReason.AUTH_FAILED, text: "Cannot: é" },
  {
    type: "TRACK_DATA",
    requestId: 42,
    volser: "VOL#@$",
    trackNumber: 0xffff_fffe,
    checksum: 0xfedc_ba98_7654_3210n,
    data: Buffer.alloc(MAX_TRACK_SIZE_BYTES, 0x5a),
  },
  {
    type: "TRACK_DATA",
    requestId: 1,
    volser: "V",
    trackNumber: 0,
    checksum: 0n,
    data: Buffer.alloc(0),
  },
  { type: "TRACK_ZERO", requestId: 43, volser: "VOL001", trackNumber: 15 },
  {
    type: "TRACK_BATCH",
    requestId: 44,
    volser: "VOL001",
    tracks: [
      { trackNumber: 3, checksum: 0x0123_4567_89ab_cdefn, data: Buffer.alloc(57_344, 1) },
      { trackNumber: 4, checksum: 0n, data: undefined },
      { trackNumber: 0xffff_ffff, checksum: 7n, data: Buffer.alloc(MAX_TRACK_SIZE_BYTES, 2) },
    ],
  },
  {
    type: "TRACK_BATCH",
    requestId: 47,
    volser: "VOL001",
    tracks: [
      { trackNumber: 0, checksum: 0n, data: undefined },
      {
        trackNumber: 3,
        checksum: 0x0123_4567_89ab_cdefn,
        data: Buffer.alloc(57_344, 1),
        blockSums: Buffer.alloc(56, 9),
      },
      // A last block that is short still has its checksum.
      { trackNumber: 4, checksum: 5n, data: Buffer.alloc(4097, 2), blockSums: Buffer.alloc(8, 7) },
    ],
  },
  {
    type: "TRACK_BATCH",
    requestId: 45,
    volser: "V",
    tracks: Array.from({ length: MAX_BATCH_TRACKS }, (_, trackNumber) => ({
      trackNumber,
      checksum: 0n,
      data: undefined,
    })),
  },
  {
    type: "TRACK_PIECE",
    requestId: 46,
    volser: "VOL#@$",
    trackNumber: 0xffff_ffff,
    offsetBytes: 0,
    lengthBytes: MAX_TRACK_SIZE_BYTES,
    checksum: 0xfedc_ba98_7654_3210n,
    data: Buffer.alloc(MAX_TRACK_SIZE_BYTES, 0x3c),
  },
  {
    type: "TRACK_PIECE",
    requestId: 47,
    volser: "V",
    trackNumber: 7,
    offsetBytes: MAX_TRACK_SIZE_BYTES - 1,
    lengthBytes: 1,
    checksum: 1n,
    data: Buffer.from([0xa5]),
  },
  {
    type: "TRACK_PIECE",
    requestId: 48,
    volser: "VOL001",
    trackNumber: 3,
    offsetBytes: 4097,
    lengthBytes: 50_000,
    checksum: 0n,
    data: undefined,
  },
  { type: "ACK", requestId: 42 },
  { type: "NACK", requestId: 42, reason: NackReason.CHECKSUM_MISMATCH },
  {
    type: "BATCH_NACK",
    requestId: 44,
    refusals: [
      { index: 0, reason: NackReason.CHECKSUM_MISMATCH },
      { index: MAX_BATCH_TRACKS - 1, reason: NackReason.TRACK_OUT_OF_RANGE },
    ],
  },
  { type: "PING", requestId: 0xffff_ffff },
  { type: "PONG", requestId: 0xffff_ffff },
  {
    type: "PAIR_OPEN",
    requestId: 7,
    primarySsid: "01A0",
    primaryVolser: "PRI001",
    secondarySsid: "FFFF",
    secondaryVolser: "S",
    mode: WirePairMode.sync,
    trackCount: 982_800,
    trackSizeBytes: MAX_TRACK_SIZE_BYTES,
    options: PairOpenOption.RESUME,
  },
  {
    type: "PAIR_STATE",
    requestId: 8,
    secondaryVolser: "SEC001",
    state: WirePairState.suspended,
    reason: WireSuspendReason["link failure"],
  },
  { type: "CONTROL", requestId: 9, op: ControlOp.SNAP, body: '{"job":"J000001","é":1}' },
  { type: "RESULT", requestId: 9, body: '{"ok":true,"tracks":30}' },
];

function header(type: number, payloadBytes: number): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt32BE(FRAME_MAGIC, 0);
  bytes.writeUInt8(1, 4);
  bytes.writeUInt8(type, 5);
  bytes.writeUInt32BE(payloadBytes, 12);
  return bytes;
}

describe("frame codec", () => {
  it.each(EVERY_FRAME.map((frame) => [frame.type, frame] as const))(
    "decodes an encoded %s frame to the same frame",
    (_type, frame) => {
      const bytes = encodeFrame(frame);
      const decoded = decodeFrame(bytes);
      if (decoded.status !== "frame") expect.fail(`decoded ${decoded.status}`);
      expect(decoded.frameBytes).toBe(bytes.length);
      if (
        (frame.type === "TRACK_DATA" && decoded.frame.type === "TRACK_DATA") ||
        (frame.type === "TRACK_PIECE" && decoded.frame.type === "TRACK_PIECE")
      ) {
        // Deep equality of a 1 MiB buffer is slow: compare the bytes, then the other fields.
        const data = decoded.frame.data;
        expect(data === undefined ? undefined : Buffer.from(data)).toEqual(frame.data);
        expect({ ...decoded.frame, data: null }).toEqual({ ...frame, data: null });
      } else {
        expect(decoded.frame).toEqual(frame);
      }
    },
  );

  it.each(EVERY_FRAME.map((frame) => [frame.type, frame] as const))(
    "encodes a %s frame in parts that join to the one-buffer encoding",
    (_type, frame) => {
      const parts = encodeFrameParts(frame);
      expect(Buffer.concat(parts).equals(encodeFrame(frame))).toBe(true);
      // A track's (or a piece's) bytes go as they are, not copied.
      if (frame.type === "TRACK_DATA") expect(parts.at(-1)).toBe(frame.data);
      if (frame.type === "TRACK_PIECE" && frame.data !== undefined) {
        expect(parts).toHaveLength(2);
        expect(parts[1]).toBe(frame.data);
      }
      if (frame.type === "TRACK_BATCH") {
        const data = frame.tracks.flatMap((track) =>
          track.data === undefined ? [] : [track.data],
        );
        expect(parts.slice(1)).toEqual(data);
        for (const [index, part] of parts.slice(1).entries()) expect(part).toBe(data[index]);
      }
    },
  );

  it("refuses a batch that breaks its rules, and a BATCH_NACK out of order", () => {
    const batch = (tracks: { trackNumber: number; checksum: bigint; data?: Buffer }[]) =>
      encodeFrame({
        type: "TRACK_BATCH",
        requestId: 1,
        volser: "V",
        tracks: tracks.map((track) => ({ ...track, data: track.data })),
      });
    const good = batch([
      { trackNumber: 1, checksum: 5n, data: Buffer.alloc(8) },
      { trackNumber: 2, checksum: 0n },
    ]);
    expect(decodeFrame(good).status).toBe("frame");
    const refused = { status: "failure", failure: { kind: "bad-field" } };
    // Payload: 1+1 VOLSER, count u16 at 2, entries from 4 (track u32, length u32, checksum u64).
    const changed = (edit: (payload: Buffer) => void) => {
      const bytes = Buffer.from(good);
      edit(bytes.subarray(FRAME_HEADER_BYTES));
      return decodeFrame(bytes);
    };
    // Tracks out of order, or the same track twice.
    expect(changed((p) => p.writeUInt32BE(2, 4))).toMatchObject(refused);
    expect(changed((p) => p.writeUInt32BE(3, 4))).toMatchObject(refused);
    // A zero record with a checksum.
    expect(changed((p) => p.writeBigUInt64BE(1n, 4 + 16 + 8))).toMatchObject(refused);
    // No tracks at all (the payload then ends early or has bytes left over).
    expect(changed((p) => p.writeUInt16BE(0, 2)).status).toBe("failure");
    // Data lengths that do not fill the payload.
    expect(changed((p) => p.writeUInt32BE(9, 8))).toMatchObject({
      status: "failure",
      failure: { kind: "bad-length" },
    });
    expect(changed((p) => p.writeUInt32BE(7, 8))).toMatchObject({
      status: "failure",
      failure: { kind: "bad-length" },
    });
    // More data than a batch may carry, said by its header alone.
    expect(decodeFrame(header(FrameType.TRACK_BATCH, MAX_BATCH_PAYLOAD_BYTES + 1))).toMatchObject({
      status: "failure",
      failure: { kind: "oversized" },
    });
    const tooMuch = Array.from({ length: 5 }, (_, trackNumber) => ({
      trackNumber,
      checksum: 1n,
      data: Buffer.alloc(MAX_TRACK_SIZE_BYTES),
    }));
    expect(() => batch(tooMuch)).toThrow();
    expect(tooMuch.length * MAX_TRACK_SIZE_BYTES).toBeGreaterThan(MAX_BATCH_DATA_BYTES);
    const nack = encodeFrame({
      type: "BATCH_NACK",
      requestId: 1,
      refusals: [
        { index: 1, reason: 1 },
        { index: 2, reason: 1 },
      ],
    });
    // BATCH_NACK payload: count u16, then (index u16, reason u16): the second index at 6.
    const swapped = Buffer.from(nack);
    swapped.writeUInt16BE(0, FRAME_HEADER_BYTES + 6);
    expect(decodeFrame(swapped)).toMatchObject(refused);
  });

  it("refuses a TRACK_PIECE with any field out of range, naming the field", () => {
    const data = Buffer.alloc(16, 7);
    const good = encodeFrame({
      type: "TRACK_PIECE",
      requestId: 1,
      volser: "V",
      trackNumber: 2,
      offsetBytes: 100,
      lengthBytes: 16,
      checksum: 9n,
      data,
    });
    const zero = encodeFrame({
      type: "TRACK_PIECE",
      requestId: 1,
      volser: "V",
      trackNumber: 2,
      offsetBytes: 100,
      lengthBytes: 16,
      checksum: 0n,
      data: undefined,
    });
    expect(decodeFrame(good).status).toBe("frame");
    expect(decodeFrame(zero).status).toBe("frame");
    // Payload: 1+1 VOLSER, track u32 at 2, offset u32 at 6, length u32 at 10, kind u8 at 14,
    // checksum u64 at 15, data from 23.
    const changed = (frame: Buffer, edit: (payload: Buffer) => void) => {
      const bytes = Buffer.from(frame);
      edit(bytes.subarray(FRAME_HEADER_BYTES));
      return decodeFrame(bytes);
    };
    const refused = (message: RegExp) => ({
      status: "failure",
      failure: { kind: "bad-field", message: expect.stringMatching(message) },
    });
    expect(changed(good, (p) => p.writeUInt8(0x61, 1))).toMatchObject(refused(/VOLSER "a"/));
    expect(changed(good, (p) => p.writeUInt8(2, 14))).toMatchObject(refused(/kind 2 is unknown/));
    expect(changed(good, (p) => p.writeUInt32BE(MAX_TRACK_SIZE_BYTES - 15, 6))).toMatchObject(
      refused(/ends past/),
    );
    expect(changed(zero, (p) => p.writeUInt32BE(0, 10))).toMatchObject(
      refused(/piece length 0 is not/),
    );
    expect(changed(zero, (p) => p.writeUInt32BE(MAX_TRACK_SIZE_BYTES + 1, 10))).toMatchObject(
      refused(/piece length \d+ is not/),
    );
    // A data piece whose bytes are not its length, either way.
    expect(changed(good, (p) => p.writeUInt32BE(17, 10))).toMatchObject(refused(/not its length/));
    expect(changed(good, (p) => p.writeUInt32BE(15, 10))).toMatchObject(refused(/not its length/));
    // A zero piece with a checksum, or with bytes after it.
    expect(changed(zero, (p) => p.writeBigUInt64BE(1n, 15))).toMatchObject(refused(/checksum/));
    expect(changed(good, (p) => p.writeUInt8(1, 14))).toMatchObject(
      refused(/zero piece carries 16 bytes/),
    );
    // A payload that ends inside the fields.
    const short = Buffer.concat([header(FrameType.TRACK_PIECE, 10), zero.subarray(16, 26)]);
    expect(decodeFrame(short)).toMatchObject({ failure: { kind: "bad-length" } });
    // More than a track's bytes, said by its header alone.
    expect(decodeFrame(header(FrameType.TRACK_PIECE, MAX_PAYLOAD_BYTES + 1))).toMatchObject({
      failure: { kind: "oversized" },
    });
  });

  it("decodes any valid piece it encodes, and never throws on a piece with bytes changed", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_TRACK_SIZE_BYTES - 1 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (offset, length, zero, flips) => {
          const offsetBytes = Math.min(offset, MAX_TRACK_SIZE_BYTES - length);
          const data = zero ? undefined : Buffer.alloc(length, 5);
          const frame: Frame = {
            type: "TRACK_PIECE",
            requestId: 3,
            volser: "VOL001",
            trackNumber: offset,
            offsetBytes,
            lengthBytes: length,
            checksum: zero ? 0n : 77n,
            data,
          };
          const bytes = encodeFrame(frame);
          expect(decodeFrame(bytes)).toMatchObject({ status: "frame", frame });
          for (const [at, value] of flips)
            bytes[FRAME_HEADER_BYTES + (at % (bytes.length - FRAME_HEADER_BYTES))] = value;
          const mangled = decodeFrame(bytes);
          if (mangled.status === "frame") expect(encodeFrame(mangled.frame)).toEqual(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("decodes any valid batch it encodes, and never throws on a batch with bytes changed", () => {
    const trackArb = fc.record({
      gap: fc.integer({ min: 1, max: 1000 }),
      length: fc.integer({ min: 0, max: 300 }),
      checksum: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
      sum: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(
        fc.array(trackArb, { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (specs, withSums, flips) => {
          let trackNumber = -1;
          const tracks: BatchTrack[] = specs.map((spec) => {
            trackNumber += spec.gap;
            if (spec.length === 0) return { trackNumber, checksum: 0n, data: undefined };
            const data = Buffer.alloc(spec.length, 3);
            const track = { trackNumber, checksum: spec.checksum, data };
            const sums = Buffer.alloc(Math.ceil(spec.length / 4096) * 4, spec.sum);
            return withSums ? { ...track, blockSums: sums } : track;
          });
          const frame: Frame = { type: "TRACK_BATCH", requestId: 9, volser: "VOL001", tracks };
          const bytes = encodeFrame(frame);
          const decoded = decodeFrame(bytes);
          expect(decoded).toMatchObject({ status: "frame", frame });
          expect(decoded.status === "frame" && "sumsDamaged" in decoded.frame).toBe(false);
          for (const [at, value] of flips)
            bytes[FRAME_HEADER_BYTES + (at % (bytes.length - FRAME_HEADER_BYTES))] = value;
          const mangled = decodeFrame(bytes);
          if (mangled.status !== "frame" || mangled.frame.type !== "TRACK_BATCH") return;
          if (mangled.frame.sumsDamaged === true) {
            // Block checksums changed on the way: no data track of the batch is kept.
            const { sound } = splitDamaged(mangled.frame);
            expect(sound?.tracks.every((track) => track.data === undefined) ?? true).toBe(true);
          } else {
            expect(encodeFrame(mangled.frame)).toEqual(bytes);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("says a frame is incomplete until its last byte is there", () => {
    const bytes = encodeFrame({
      type: "TRACK_ZERO",
      requestId: 5,
      volser: "VOL001",
      trackNumber: 3,
    });
    for (let length = 0; length < bytes.length; length += 1) {
      expect(decodeFrame(bytes.subarray(0, length)).status).toBe("incomplete");
    }
  });

  it("fits the largest track frame within MAX_FRAME_BYTES", () => {
    const largest = encodeFrame(
      EVERY_FRAME.find(
        (frame) => frame.type === "TRACK_DATA" && frame.data.length === MAX_TRACK_SIZE_BYTES,
      ) as Frame,
    );
    expect(largest.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it("refuses a payload length past the limit from the header alone", () => {
    const result = decodeFrame(header(FrameType.TRACK_DATA, MAX_PAYLOAD_BYTES + 1));
    expect(result).toMatchObject({ status: "failure", failure: { kind: "oversized" } });
  });

  it("refuses bad magic, an unknown format, an unknown type and unknown flags", () => {
    const badMagic = header(FrameType.PING, 0);
    badMagic.writeUInt32BE(0x12345678, 0);
    const badFormat = header(FrameType.PING, 0);
    badFormat.writeUInt8(9, 4);
    const badFlags = header(FrameType.PING, 0);
    badFlags.writeUInt16BE(1, 6);
    expect(decodeFrame(badMagic)).toMatchObject({ failure: { kind: "bad-magic" } });
    expect(decodeFrame(badFormat)).toMatchObject({ failure: { kind: "bad-format" } });
    expect(decodeFrame(header(99, 0))).toMatchObject({ failure: { kind: "unknown-type" } });
    expect(decodeFrame(badFlags)).toMatchObject({ failure: { kind: "bad-flags" } });
    // BLOCK_SUMS is a TRACK_BATCH's flag alone, and a batch has no other.
    const batchFlags = header(FrameType.TRACK_BATCH, 0);
    batchFlags.writeUInt16BE(2, 6);
    expect(decodeFrame(batchFlags)).toMatchObject({ failure: { kind: "bad-flags" } });
    const sumsOnData = header(FrameType.TRACK_DATA, 0);
    sumsOnData.writeUInt16BE(1, 6);
    expect(decodeFrame(sumsOnData)).toMatchObject({ failure: { kind: "bad-flags" } });
  });

  it("refuses payloads too short, too long or with fields out of range", () => {
    const shortNonce = Buffer.concat([header(FrameType.CHALLENGE, 31), Buffer.alloc(31)]);
    const longAck = Buffer.concat([header(FrameType.ACK, 1), Buffer.alloc(1)]);
    const lowerVolser = Buffer.concat([
      header(FrameType.TRACK_ZERO, 8),
      Buffer.from([3, 0x76, 0x6f, 0x6c, 0, 0, 0, 1]),
    ]);
    const noVersions = Buffer.concat([
      header(FrameType.HELLO, 4),
      Buffer.from([0, 1, 0x41, 0, 0]).subarray(0, 4),
    ]);
    expect(decodeFrame(shortNonce)).toMatchObject({ failure: { kind: "bad-length" } });
    expect(decodeFrame(longAck)).toMatchObject({ failure: { kind: "bad-length" } });
    expect(decodeFrame(lowerVolser)).toMatchObject({ failure: { kind: "bad-field" } });
    expect(decodeFrame(noVersions).status).toBe("failure");
  });

  it("refuses control frames with an unknown op or a body that is not a JSON object", () => {
    const control = (op: number, body: string) =>
      Buffer.concat([
        header(FrameType.CONTROL, 1 + Buffer.byteLength(body)),
        Buffer.from([op]),
        Buffer.from(body),
      ]);
    const refused = { failure: { kind: "bad-field" } };
    expect(decodeFrame(control(99, "{}"))).toMatchObject(refused);
    expect(decodeFrame(control(ControlOp.FLUSH, "not json"))).toMatchObject(refused);
    expect(decodeFrame(control(ControlOp.FLUSH, "[1]"))).toMatchObject(refused);
    expect(decodeFrame(control(ControlOp.FLUSH, " {} "))).toMatchObject({ status: "frame" });
  });

  it("refuses pair frames with an unknown mode, state, reason or option, or an empty volume", () => {
    const open = EVERY_FRAME.find((frame) => frame.type === "PAIR_OPEN");
    const state = EVERY_FRAME.find((frame) => frame.type === "PAIR_STATE");
    if (open?.type !== "PAIR_OPEN" || state?.type !== "PAIR_STATE") expect.fail("no pair frames");
    const openBytes = encodeFrame(open);
    const stateBytes = encodeFrame(state);
    // PAIR_OPEN payload: u16, 1+6, u16, 1+1, mode u8 at 11, u32 tracks at 12, u32 size, u8 options.
    const at = (bytes: Buffer, offset: number, write: (copy: Buffer) => void) => {
      const copy = Buffer.from(bytes);
      write(copy.subarray(FRAME_HEADER_BYTES + offset));
      return decodeFrame(copy);
    };
    const refused = { failure: { kind: "bad-field" } };
    expect(at(openBytes, 13, (p) => p.writeUInt8(3, 0))).toMatchObject(refused);
    expect(at(openBytes, 14, (p) => p.writeUInt32BE(0, 0))).toMatchObject(refused);
    expect(at(openBytes, 18, (p) => p.writeUInt32BE(MAX_TRACK_SIZE_BYTES + 1, 0))).toMatchObject(
      refused,
    );
    expect(at(openBytes, 22, (p) => p.writeUInt8(2, 0))).toMatchObject(refused);
    // PAIR_STATE payload: 1+6 VOLSER, state u8 at 7, reason u8 at 8.
    expect(at(stateBytes, 7, (p) => p.writeUInt8(9, 0))).toMatchObject(refused);
    expect(at(stateBytes, 8, (p) => p.writeUInt8(9, 0))).toMatchObject(refused);
  });

  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = decodeFrame(Buffer.from(bytes));
        expect(["frame", "incomplete", "failure"]).toContain(result.status);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on a valid header of any type followed by random payload bytes", () => {
    const types = Object.values(FrameType);
    fc.assert(
      fc.property(
        fc.constantFrom(...types),
        fc.uint8Array({ maxLength: 120 }),
        fc.integer({ min: 0, max: 130 }),
        (type, payload, claimed) => {
          const bytes = Buffer.concat([header(type, claimed), Buffer.from(payload)]);
          const result = decodeFrame(bytes);
          if (result.status === "frame") {
            expect(result.frameBytes).toBe(FRAME_HEADER_BYTES + claimed);
            expect(encodeFrame(result.frame)).toEqual(bytes.subarray(0, result.frameBytes));
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
