// Encodes and decodes peer link frames. Pure: no I/O. Decoding never throws on bad bytes and never
// reads past the buffer: it returns a typed frame or a typed failure. Encoding asserts its input,
// which is ours. All integers are big-endian.
//
//   header (16 bytes)
//   0       4       5      6       8            12             16
//   +-------+-------+------+-------+------------+--------------+---------------------+
//   | magic | format| type | flags | request id | payload len  | payload ...         |
//   | GSLK  | u8 =1 | u8   | u16   | u32        | u32 <= max   |                     |
//   +-------+-------+------+-------+------------+--------------+---------------------+
//
//   HELLO      u8 n, u8 version[n], u8 len, serial, u8 len, expect serial, u8 m, u16 ssid[m]
//   CHALLENGE  nonce[32]
//   PROOF      hmac[32]
//   WELCOME    u8 version
//   REFUSE     u16 reason, u16 len, text (UTF-8)
//   TRACK_DATA u8 len, volser, u32 track number, u64 checksum, data (the rest, <= 1 MiB)
//   TRACK_ZERO u8 len, volser, u32 track number
//   TRACK_BATCH u8 len, volser, u16 n, n x (u32 track number, u32 data length (0: zero record),
//              u64 checksum (0 for a zero record)); with flag BLOCK_SUMS (version 4) u32 xxHash32
//              of the sums, then each data track's block checksums (u32 LE per 4 KiB block) in
//              entry order; then each data track's bytes in entry order
//   TRACK_PIECE u8 len, volser, u32 track number, u32 offset within the track, u32 length,
//              u8 kind (0 data, 1 zero), u64 checksum (0 for zero), data (data: `length` bytes)
//   ACK, PING, PONG  (empty)
//   NACK       u16 reason
//   BATCH_NACK u16 m, m x (u16 index in the batch, u16 reason)
//   PAIR_OPEN  u16 primary ssid, u8 len, primary volser, u16 secondary ssid, u8 len, secondary
//              volser, u8 mode, u32 track count, u32 track size, u8 options (bit 0: resume)
//   PAIR_STATE u8 len, secondary volser, u8 state, u8 reason
//   CONTROL    u8 op, JSON object (UTF-8, the rest, <= 512 KiB)
//   RESULT     JSON object (UTF-8, the rest, <= 512 KiB)

import assert from "node:assert/strict";
import { MAX_TRACK_SIZE_BYTES } from "../geometry/geometry.js";
import {
  carriesSums,
  checkBatchRefusals,
  checkBatchTracks,
  encodeBatchParts,
  readBatchNack,
  readTrackBatch,
  writeBatchNack,
} from "./batch-codec.js";
import {
  BatchFlag,
  ControlOp,
  FRAME_FORMAT,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  type Frame,
  type FrameFailure,
  type FrameFailureKind,
  FrameType,
  type FrameTypeName,
  KNOWN_BATCH_FLAGS,
  KNOWN_FLAGS,
  MAX_BATCH_PAYLOAD_BYTES,
  MAX_CONTROL_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_REASON_TEXT_BYTES,
  MAX_SERIAL_BYTES,
  MAX_SSIDS,
  MAX_VERSIONS_OFFERED,
  MAX_VOLSER_BYTES,
  NONCE_BYTES,
  PairOpenOption,
  PROOF_BYTES,
  WirePairMode,
  WirePairState,
  WireSuspendReason,
} from "./frame-types.js";
import { PayloadReader } from "./payload-reader.js";
import { PayloadWriter } from "./payload-writer.js";
import { checkTrackPiece, readTrackPiece, writeTrackPieceFields } from "./piece-codec.js";

const SERIAL_PATTERN = /^[0-9A-Z]{1,10}$/;
const VOLSER_PATTERN = /^[A-Z0-9@#$]{1,6}$/;
const SSID_PATTERN = /^[0-9A-F]{4}$/;
const MAX_U32 = 0xffff_ffff;

const TYPE_NAMES = new Map<number, FrameTypeName>(
  Object.entries(FrameType).map(([name, value]) => [value, name as FrameTypeName]),
);

export interface FrameHeader {
  readonly type: FrameTypeName;
  readonly flags: number;
  readonly requestId: number;
  readonly payloadBytes: number;
}

export type HeaderResult =
  | { readonly ok: true; readonly header: FrameHeader }
  | { readonly ok: false; readonly failure: FrameFailure };

export type PayloadResult =
  | { readonly ok: true; readonly frame: Frame }
  | { readonly ok: false; readonly failure: FrameFailure };

/** What decodeFrame found at the start of a buffer. */
export type DecodeResult =
  | { readonly status: "frame"; readonly frame: Frame; readonly frameBytes: number }
  | { readonly status: "incomplete" }
  | { readonly status: "failure"; readonly failure: FrameFailure };

function failure(kind: FrameFailureKind, message: string): { ok: false; failure: FrameFailure } {
  return { ok: false, failure: { kind, message } };
}

/** Decodes the 16-byte header at the start of `bytes`, which must hold at least that many. */
export function decodeFrameHeader(bytes: Buffer): HeaderResult {
  assert.ok(bytes.length >= FRAME_HEADER_BYTES, "a header's bytes are all there");
  const magic = bytes.readUInt32BE(0);
  if (magic !== FRAME_MAGIC) {
    return failure("bad-magic", `Cannot read frame: magic 0x${magic.toString(16)} is not GSLK`);
  }
  const format = bytes.readUInt8(4);
  if (format !== FRAME_FORMAT) {
    return failure(
      "bad-format",
      `Cannot read frame: header format ${format} is not ${FRAME_FORMAT}`,
    );
  }
  const typeCode = bytes.readUInt8(5);
  const type = TYPE_NAMES.get(typeCode);
  if (type === undefined) {
    return failure("unknown-type", `Cannot read frame: type ${typeCode} is unknown`);
  }
  const flags = bytes.readUInt16BE(6);
  if ((flags & ~(type === "TRACK_BATCH" ? KNOWN_BATCH_FLAGS : KNOWN_FLAGS)) !== 0) {
    return failure("bad-flags", `Cannot read ${type} frame: flags 0x${flags.toString(16)} unknown`);
  }
  const payloadBytes = bytes.readUInt32BE(12);
  const maxBytes = maxPayloadBytes(type);
  if (payloadBytes > maxBytes) {
    return failure(
      "oversized",
      `Cannot read ${type} frame: payload of ${payloadBytes} bytes exceeds ${maxBytes}`,
    );
  }
  return { ok: true, header: { type, flags, requestId: bytes.readUInt32BE(8), payloadBytes } };
}

/** The largest payload a frame of the type may have: only a TRACK_BATCH is larger than a track. */
export function maxPayloadBytes(type: FrameTypeName): number {
  return type === "TRACK_BATCH" ? MAX_BATCH_PAYLOAD_BYTES : MAX_PAYLOAD_BYTES;
}

/** Decodes one frame at the start of `bytes`, or says that more bytes are needed. */
export function decodeFrame(bytes: Buffer): DecodeResult {
  if (bytes.length < FRAME_HEADER_BYTES) return { status: "incomplete" };
  const header = decodeFrameHeader(bytes);
  if (!header.ok) return { status: "failure", failure: header.failure };
  const frameBytes = FRAME_HEADER_BYTES + header.header.payloadBytes;
  if (bytes.length < frameBytes) return { status: "incomplete" };
  const payload = decodePayload(header.header, bytes.subarray(FRAME_HEADER_BYTES, frameBytes));
  if (!payload.ok) return { status: "failure", failure: payload.failure };
  return { status: "frame", frame: payload.frame, frameBytes };
}

/** Decodes the payload of a frame whose header was decoded. TRACK_DATA's data is a view. */
export function decodePayload(header: FrameHeader, payload: Buffer): PayloadResult {
  assert.equal(payload.length, header.payloadBytes);
  const reader = new PayloadReader(payload);
  const read = readPayload(header, reader);
  if (read !== undefined && "problem" in read && !reader.failed) {
    return failure("bad-field", `Cannot read ${header.type} frame: ${read.problem}`);
  }
  const frame = read !== undefined && "problem" in read ? undefined : read;
  if (reader.failed || frame === undefined) {
    return failure("bad-length", `Cannot read ${header.type} frame: payload ends early`);
  }
  if (reader.remaining !== 0) {
    return failure(
      "bad-length",
      `Cannot read ${header.type} frame: ${reader.remaining} bytes after the payload`,
    );
  }
  const problem = checkFields(frame);
  if (problem !== undefined) {
    return failure("bad-field", `Cannot read ${header.type} frame: ${problem}`);
  }
  return { ok: true, frame };
}

function readPayload(
  header: FrameHeader,
  reader: PayloadReader,
): Frame | { readonly problem: string } | undefined {
  const requestId = header.requestId;
  switch (header.type) {
    case "HELLO": {
      const versions = Array.from(reader.u8Array(reader.u8()));
      const serial = reader.ascii(reader.u8());
      const expectSerial = reader.ascii(reader.u8());
      const ssidCount = reader.u8();
      const ssids: string[] = [];
      for (let index = 0; index < ssidCount && !reader.failed; index += 1) {
        ssids.push(readSsid(reader));
      }
      return { type: "HELLO", requestId, versions, serial, expectSerial, ssids };
    }
    case "CHALLENGE":
      return { type: "CHALLENGE", requestId, nonce: Buffer.from(reader.bytes(NONCE_BYTES)) };
    case "PROOF":
      return { type: "PROOF", requestId, proof: Buffer.from(reader.bytes(PROOF_BYTES)) };
    case "WELCOME":
      return { type: "WELCOME", requestId, version: reader.u8() };
    case "REFUSE": {
      const reason = reader.u16();
      const text = reader.bytes(reader.u16()).toString("utf8");
      return { type: "REFUSE", requestId, reason, text };
    }
    case "TRACK_DATA": {
      const volser = reader.ascii(reader.u8());
      const trackNumber = reader.u32();
      const checksum = reader.u64();
      const data = reader.bytes(reader.remaining);
      return { type: "TRACK_DATA", requestId, volser, trackNumber, checksum, data };
    }
    case "TRACK_ZERO": {
      const volser = reader.ascii(reader.u8());
      return { type: "TRACK_ZERO", requestId, volser, trackNumber: reader.u32() };
    }
    case "TRACK_BATCH":
      return readTrackBatch(requestId, reader, header.flags);
    case "TRACK_PIECE":
      return readTrackPiece(requestId, reader);
    case "NACK":
      return { type: "NACK", requestId, reason: reader.u16() };
    case "BATCH_NACK":
      return readBatchNack(requestId, reader);
    case "PAIR_OPEN":
      return {
        type: "PAIR_OPEN",
        requestId,
        primarySsid: readSsid(reader),
        primaryVolser: reader.ascii(reader.u8()),
        secondarySsid: readSsid(reader),
        secondaryVolser: reader.ascii(reader.u8()),
        mode: reader.u8(),
        trackCount: reader.u32(),
        trackSizeBytes: reader.u32(),
        options: reader.u8(),
      };
    case "PAIR_STATE":
      return {
        type: "PAIR_STATE",
        requestId,
        secondaryVolser: reader.ascii(reader.u8()),
        state: reader.u8(),
        reason: reader.u8(),
      };
    case "CONTROL": {
      const op = reader.u8();
      return {
        type: "CONTROL",
        requestId,
        op,
        body: reader.bytes(reader.remaining).toString("utf8"),
      };
    }
    case "RESULT":
      return { type: "RESULT", requestId, body: reader.bytes(reader.remaining).toString("utf8") };
    case "ACK":
    case "PING":
    case "PONG":
      return { type: header.type, requestId };
  }
}

const CONTROL_OPS: ReadonlySet<number> = new Set(Object.values(ControlOp));

/** Why a CONTROL or RESULT body is not a JSON object of at most MAX_CONTROL_BYTES. */
function checkJsonBody(body: string): string | undefined {
  if (Buffer.byteLength(body) > MAX_CONTROL_BYTES)
    return `body is longer than ${MAX_CONTROL_BYTES} bytes`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return "body is not JSON";
  }
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    ? undefined
    : "body is not a JSON object";
}

function readSsid(reader: PayloadReader): string {
  return reader.u16().toString(16).toUpperCase().padStart(4, "0");
}

const PAIR_MODES: ReadonlySet<number> = new Set(Object.values(WirePairMode));
const PAIR_STATES: ReadonlySet<number> = new Set(Object.values(WirePairState));
const SUSPEND_REASONS: ReadonlySet<number> = new Set(Object.values(WireSuspendReason));

/** Why a frame's fields are out of range, or undefined when they are fine. */
export function checkFields(frame: Frame): string | undefined {
  switch (frame.type) {
    case "HELLO":
      if (frame.versions.length === 0) return "no protocol version offered";
      if (frame.versions.length > MAX_VERSIONS_OFFERED) {
        return `${frame.versions.length} versions offered, more than ${MAX_VERSIONS_OFFERED}`;
      }
      if (frame.versions.some((version) => version < 1 || version > 255)) {
        return "a protocol version is not 1-255";
      }
      if (!SERIAL_PATTERN.test(frame.serial)) return `serial "${frame.serial}" is not valid`;
      if (frame.expectSerial !== "" && !SERIAL_PATTERN.test(frame.expectSerial)) {
        return `expected serial "${frame.expectSerial}" is not valid`;
      }
      if (frame.ssids.length > MAX_SSIDS) return `more than ${MAX_SSIDS} SSIDs`;
      if (frame.ssids.some((ssid) => !SSID_PATTERN.test(ssid))) return "an SSID is not 4 hex";
      return undefined;
    case "CHALLENGE":
      return frame.nonce.length === NONCE_BYTES ? undefined : `nonce is not ${NONCE_BYTES} bytes`;
    case "PROOF":
      return frame.proof.length === PROOF_BYTES ? undefined : `proof is not ${PROOF_BYTES} bytes`;
    case "WELCOME":
      return frame.version >= 1 && frame.version <= 255 ? undefined : "version is not 1-255";
    case "REFUSE":
      return Buffer.byteLength(frame.text) <= MAX_REASON_TEXT_BYTES
        ? undefined
        : `reason text is longer than ${MAX_REASON_TEXT_BYTES} bytes`;
    case "TRACK_DATA":
      if (frame.data.length > MAX_TRACK_SIZE_BYTES) {
        return `track data of ${frame.data.length} bytes exceeds ${MAX_TRACK_SIZE_BYTES}`;
      }
      return checkTrack(frame.volser, frame.trackNumber);
    case "TRACK_ZERO":
      return checkTrack(frame.volser, frame.trackNumber);
    case "TRACK_BATCH":
      if (!VOLSER_PATTERN.test(frame.volser)) return `VOLSER "${frame.volser}" is not valid`;
      return checkBatchTracks(frame.tracks);
    case "BATCH_NACK":
      return checkBatchRefusals(frame.refusals);
    case "TRACK_PIECE":
      return checkTrackPiece(frame);
    case "PAIR_OPEN":
      if (!VOLSER_PATTERN.test(frame.primaryVolser)) {
        return `VOLSER "${frame.primaryVolser}" is not valid`;
      }
      if (!VOLSER_PATTERN.test(frame.secondaryVolser)) {
        return `VOLSER "${frame.secondaryVolser}" is not valid`;
      }
      if (!SSID_PATTERN.test(frame.primarySsid) || !SSID_PATTERN.test(frame.secondarySsid)) {
        return "an SSID is not 4 hex";
      }
      if (!PAIR_MODES.has(frame.mode)) return `pair mode ${frame.mode} is unknown`;
      if ((frame.options & ~PairOpenOption.RESUME) !== 0) {
        return `options 0x${frame.options.toString(16)} has unknown bits`;
      }
      if (frame.trackCount === 0) return "a volume has at least one track";
      if (frame.trackSizeBytes === 0 || frame.trackSizeBytes > MAX_TRACK_SIZE_BYTES) {
        return `track size ${frame.trackSizeBytes} is not 1-${MAX_TRACK_SIZE_BYTES}`;
      }
      return undefined;
    case "CONTROL":
      if (!CONTROL_OPS.has(frame.op)) return `control op ${frame.op} is unknown`;
      return checkJsonBody(frame.body);
    case "RESULT":
      return checkJsonBody(frame.body);
    case "PAIR_STATE":
      if (!VOLSER_PATTERN.test(frame.secondaryVolser)) {
        return `VOLSER "${frame.secondaryVolser}" is not valid`;
      }
      if (!PAIR_STATES.has(frame.state)) return `pair state ${frame.state} is unknown`;
      if (!SUSPEND_REASONS.has(frame.reason)) return `suspend reason ${frame.reason} is unknown`;
      return undefined;
    default:
      return undefined;
  }
}

function checkTrack(volser: string, trackNumber: number): string | undefined {
  if (!VOLSER_PATTERN.test(volser)) return `VOLSER "${volser}" is not valid`;
  assert.ok(trackNumber >= 0 && trackNumber <= MAX_U32, "a decoded track number is a u32");
  return undefined;
}

/**
 * Encodes a frame as buffers to send in order: for TRACK_DATA and a data TRACK_PIECE the header
 * and fields, then the bytes as they are (a track is not copied on its way to the socket); for
 * the rest one buffer.
 */
export function encodeFrameParts(frame: Frame): Buffer[] {
  if (frame.type === "TRACK_BATCH") {
    assert.equal(checkFields(frame), undefined, "a TRACK_BATCH to send is valid");
    return encodeBatchParts(frame);
  }
  if (frame.type === "TRACK_PIECE" && frame.data !== undefined) {
    const data = frame.data;
    assert.equal(checkFields(frame), undefined, "a TRACK_PIECE to send is valid");
    const writer = new PayloadWriter();
    writeTrackPieceFields(frame, writer);
    const fields = writer.finish();
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + fields.length);
    writeHeader(head, frame, fields.length + data.length);
    fields.copy(head, FRAME_HEADER_BYTES);
    return [head, data];
  }
  if (frame.type !== "TRACK_DATA") return [encodeFrame(frame)];
  assert.ok(frame.data.length <= MAX_TRACK_SIZE_BYTES, "a track to send fits a frame");
  const empty = encodeFrame({ ...frame, data: EMPTY });
  empty.writeUInt32BE(empty.length - FRAME_HEADER_BYTES + frame.data.length, 12);
  return [empty, frame.data];
}

function writeHeader(output: Buffer, frame: Frame, payloadBytes: number): void {
  output.writeUInt32BE(FRAME_MAGIC, 0);
  output.writeUInt8(FRAME_FORMAT, 4);
  output.writeUInt8(FrameType[frame.type], 5);
  const sums = frame.type === "TRACK_BATCH" && carriesSums(frame.tracks);
  output.writeUInt16BE(sums ? BatchFlag.BLOCK_SUMS : 0, 6);
  output.writeUInt32BE(frame.requestId, 8);
  output.writeUInt32BE(payloadBytes, 12);
}

const EMPTY = Buffer.alloc(0);

/** Encodes a frame, header and payload, into one buffer. The frame must be valid. */
export function encodeFrame(frame: Frame): Buffer {
  const problem = checkFields(frame);
  assert.equal(problem, undefined, `a ${frame.type} frame to send is valid`);
  assert.ok(Number.isInteger(frame.requestId), "a request id is an integer");
  assert.ok(frame.requestId >= 0 && frame.requestId <= MAX_U32, "a request id is a u32");
  const writer = new PayloadWriter();
  writePayload(frame, writer);
  const payload = writer.finish();
  assert.ok(payload.length <= maxPayloadBytes(frame.type), "a payload to send is within the limit");
  const output = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeHeader(output, frame, payload.length);
  payload.copy(output, FRAME_HEADER_BYTES);
  return output;
}

function writePayload(frame: Frame, writer: PayloadWriter): void {
  switch (frame.type) {
    case "HELLO":
      writer.u8(frame.versions.length);
      for (const version of frame.versions) writer.u8(version);
      writer.shortAscii(frame.serial, MAX_SERIAL_BYTES);
      writer.shortAscii(frame.expectSerial, MAX_SERIAL_BYTES);
      writer.u8(frame.ssids.length);
      for (const ssid of frame.ssids) writer.u16(Number.parseInt(ssid, 16));
      return;
    case "CHALLENGE":
      writer.bytes(frame.nonce);
      return;
    case "PROOF":
      writer.bytes(frame.proof);
      return;
    case "WELCOME":
      writer.u8(frame.version);
      return;
    case "REFUSE": {
      const text = Buffer.from(frame.text, "utf8");
      writer.u16(frame.reason);
      writer.u16(text.length);
      writer.bytes(text);
      return;
    }
    case "TRACK_DATA":
      writer.shortAscii(frame.volser, MAX_VOLSER_BYTES);
      writer.u32(frame.trackNumber);
      writer.u64(frame.checksum);
      writer.bytes(frame.data);
      return;
    case "TRACK_ZERO":
      writer.shortAscii(frame.volser, MAX_VOLSER_BYTES);
      writer.u32(frame.trackNumber);
      return;
    case "TRACK_BATCH": {
      // The parts that go to the socket, less the frame header at the start of the first.
      const [head, ...data] = encodeBatchParts(frame);
      writer.bytes(head.subarray(FRAME_HEADER_BYTES));
      for (const part of data) writer.bytes(part);
      return;
    }
    case "TRACK_PIECE":
      writeTrackPieceFields(frame, writer);
      if (frame.data !== undefined) writer.bytes(frame.data);
      return;
    case "NACK":
      writer.u16(frame.reason);
      return;
    case "BATCH_NACK":
      writeBatchNack(frame, writer);
      return;
    case "PAIR_OPEN":
      writer.u16(Number.parseInt(frame.primarySsid, 16));
      writer.shortAscii(frame.primaryVolser, MAX_VOLSER_BYTES);
      writer.u16(Number.parseInt(frame.secondarySsid, 16));
      writer.shortAscii(frame.secondaryVolser, MAX_VOLSER_BYTES);
      writer.u8(frame.mode);
      writer.u32(frame.trackCount);
      writer.u32(frame.trackSizeBytes);
      writer.u8(frame.options);
      return;
    case "CONTROL":
      writer.u8(frame.op);
      writer.bytes(Buffer.from(frame.body, "utf8"));
      return;
    case "RESULT":
      writer.bytes(Buffer.from(frame.body, "utf8"));
      return;
    case "PAIR_STATE":
      writer.shortAscii(frame.secondaryVolser, MAX_VOLSER_BYTES);
      writer.u8(frame.state);
      writer.u8(frame.reason);
      return;
    case "ACK":
    case "PING":
    case "PONG":
      return;
  }
}
