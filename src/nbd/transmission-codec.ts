// Byte layouts of the NBD transmission phase: requests, simple replies and structured reply
// chunks, both directions (the server decodes requests and encodes replies; tests and tools use
// the rest). Pure: no I/O. All integers are big-endian.
//
// Request, client to server (28 bytes, then `length` bytes of data for NBD_CMD_WRITE):
//   0            4          6         8            16           24           28
//   | 0x25609513 | flags u16 | type u16 | handle u64 | offset u64 | length u32 |
// Simple reply, server to client (16 bytes, then the data of a successful NBD_CMD_READ):
//   0            4           8            16
//   | 0x67446698 | error u32 | handle u64 |
// Structured reply chunk, server to client (20 bytes + payload):
//   0            4          6         8            16           20
//   | 0x668e33ef | flags u16 | type u16 | handle u64 | length u32 | payload[length]
// Payloads: OFFSET_DATA = offset u64, data; BLOCK_STATUS = context id u32, then per extent
//   length u32 and status flags u32; ERROR = error u32, message length u16, message.

import assert from "node:assert/strict";
import type { Decoded } from "./handshake-codec.js";
import {
  MAX_STRING_BYTES,
  REQUEST_MAGIC,
  ReplyFlag,
  ReplyType,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
} from "./protocol.js";

export const REQUEST_HEADER_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const STRUCTURED_HEADER_BYTES = 20;
/** A read's data chunk header: the structured header and the offset in front of the data. */
export const READ_CHUNK_HEADER_BYTES = STRUCTURED_HEADER_BYTES + 8;

const TWO_TO_32 = 2 ** 32;

export interface Request {
  readonly flags: number;
  readonly type: number;
  readonly handle: bigint;
  /**
   * The offset as a number. Offsets past 2^53 lose precision, but every such offset is far past
   * the end of any export, so range checks still refuse them.
   */
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export interface StructuredHeader {
  readonly flags: number;
  readonly type: number;
  readonly handle: bigint;
  readonly lengthBytes: number;
}

export interface Extent {
  readonly lengthBytes: number;
  readonly flags: number;
}

export function encodeRequestHeader(request: Request): Buffer {
  const buffer = Buffer.allocUnsafe(REQUEST_HEADER_BYTES);
  buffer.writeUInt32BE(REQUEST_MAGIC, 0);
  buffer.writeUInt16BE(request.flags, 4);
  buffer.writeUInt16BE(request.type, 6);
  buffer.writeBigUInt64BE(request.handle, 8);
  buffer.writeBigUInt64BE(BigInt(request.offsetBytes), 16);
  buffer.writeUInt32BE(request.lengthBytes, 24);
  return buffer;
}

export function decodeRequestHeader(bytes: Buffer): Decoded<Request> {
  const magic = bytes.readUInt32BE(0);
  if (magic !== REQUEST_MAGIC) {
    return { ok: false, reason: `request magic 0x${magic.toString(16)} is not 0x25609513` };
  }
  return {
    ok: true,
    value: {
      flags: bytes.readUInt16BE(4),
      type: bytes.readUInt16BE(6),
      handle: bytes.readBigUInt64BE(8),
      offsetBytes: bytes.readUInt32BE(16) * TWO_TO_32 + bytes.readUInt32BE(20),
      lengthBytes: bytes.readUInt32BE(24),
    },
  };
}

/** A simple reply, into `into` (SIMPLE_REPLY_BYTES long) when given. */
export function encodeSimpleReply(reply: { error: number; handle: bigint }, into?: Buffer): Buffer {
  const buffer = into ?? Buffer.allocUnsafe(SIMPLE_REPLY_BYTES);
  assert.equal(buffer.length, SIMPLE_REPLY_BYTES);
  buffer.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  buffer.writeUInt32BE(reply.error, 4);
  buffer.writeBigUInt64BE(reply.handle, 8);
  return buffer;
}

export function decodeSimpleReply(bytes: Buffer): Decoded<{ error: number; handle: bigint }> {
  if (bytes.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) {
    return { ok: false, reason: "a simple reply lacks its magic" };
  }
  return { ok: true, value: { error: bytes.readUInt32BE(4), handle: bytes.readBigUInt64BE(8) } };
}

export function encodeStructuredHeader(header: StructuredHeader): Buffer {
  const buffer = Buffer.allocUnsafe(STRUCTURED_HEADER_BYTES);
  writeStructuredHeader(buffer, header);
  return buffer;
}

function writeStructuredHeader(buffer: Buffer, header: StructuredHeader): void {
  buffer.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  buffer.writeUInt16BE(header.flags, 4);
  buffer.writeUInt16BE(header.type, 6);
  buffer.writeBigUInt64BE(header.handle, 8);
  buffer.writeUInt32BE(header.lengthBytes, 16);
}

export function decodeStructuredHeader(bytes: Buffer): Decoded<StructuredHeader> {
  if (bytes.readUInt32BE(0) !== STRUCTURED_REPLY_MAGIC) {
    return { ok: false, reason: "a structured reply chunk lacks its magic" };
  }
  return {
    ok: true,
    value: {
      flags: bytes.readUInt16BE(4),
      type: bytes.readUInt16BE(6),
      handle: bytes.readBigUInt64BE(8),
      lengthBytes: bytes.readUInt32BE(16),
    },
  };
}

/**
 * The header of the one OFFSET_DATA chunk that answers a read, marked DONE: the data is in hand
 * before the header goes out, so no error can follow it. The data is sent after it, uncopied.
 * Written into `into` (READ_CHUNK_HEADER_BYTES long) when given: the bytes before the data.
 */
export function encodeReadChunkHeader(
  chunk: {
    handle: bigint;
    offsetBytes: number;
    dataBytes: number;
  },
  into?: Buffer,
): Buffer {
  const buffer = into ?? Buffer.allocUnsafe(READ_CHUNK_HEADER_BYTES);
  assert.equal(buffer.length, READ_CHUNK_HEADER_BYTES);
  writeStructuredHeader(buffer, {
    flags: ReplyFlag.DONE,
    type: ReplyType.OFFSET_DATA,
    handle: chunk.handle,
    lengthBytes: 8 + chunk.dataBytes,
  });
  buffer.writeBigUInt64BE(BigInt(chunk.offsetBytes), STRUCTURED_HEADER_BYTES);
  return buffer;
}

/** A final NBD_REPLY_TYPE_ERROR chunk; the message is cut to the protocol's string limit. */
export function encodeErrorChunk(chunk: {
  handle: bigint;
  error: number;
  message: string;
}): Buffer {
  const message = truncateUtf8(chunk.message, MAX_STRING_BYTES);
  const buffer = Buffer.allocUnsafe(STRUCTURED_HEADER_BYTES + 6 + message.length);
  writeStructuredHeader(buffer, {
    flags: ReplyFlag.DONE,
    type: ReplyType.ERROR,
    handle: chunk.handle,
    lengthBytes: 6 + message.length,
  });
  buffer.writeUInt32BE(chunk.error, STRUCTURED_HEADER_BYTES);
  buffer.writeUInt16BE(message.length, STRUCTURED_HEADER_BYTES + 4);
  message.copy(buffer, STRUCTURED_HEADER_BYTES + 6);
  return buffer;
}

/** The error and message of an ERROR chunk's payload. */
export function decodeErrorPayload(payload: Buffer): Decoded<{ error: number; message: string }> {
  if (payload.length < 6) return { ok: false, reason: "an error chunk is under 6 bytes" };
  const messageBytes = payload.readUInt16BE(4);
  if (messageBytes > payload.length - 6) {
    return { ok: false, reason: "an error message overruns its chunk" };
  }
  const message = payload.subarray(6, 6 + messageBytes).toString("utf8");
  return { ok: true, value: { error: payload.readUInt32BE(0), message } };
}

/** A final NBD_REPLY_TYPE_BLOCK_STATUS chunk for one metadata context. */
export function encodeBlockStatusChunk(chunk: {
  handle: bigint;
  contextId: number;
  extents: readonly Extent[];
}): Buffer {
  const payloadBytes = 4 + 8 * chunk.extents.length;
  const buffer = Buffer.allocUnsafe(STRUCTURED_HEADER_BYTES + payloadBytes);
  writeStructuredHeader(buffer, {
    flags: ReplyFlag.DONE,
    type: ReplyType.BLOCK_STATUS,
    handle: chunk.handle,
    lengthBytes: payloadBytes,
  });
  let at = buffer.writeUInt32BE(chunk.contextId, STRUCTURED_HEADER_BYTES);
  for (const extent of chunk.extents) {
    at = buffer.writeUInt32BE(extent.lengthBytes, at);
    at = buffer.writeUInt32BE(extent.flags, at);
  }
  return buffer;
}

export function decodeBlockStatusPayload(
  payload: Buffer,
): Decoded<{ contextId: number; extents: Extent[] }> {
  if (payload.length < 12 || (payload.length - 4) % 8 !== 0) {
    return { ok: false, reason: `a block status payload of ${payload.length} bytes` };
  }
  const extents: Extent[] = [];
  for (let at = 4; at < payload.length; at += 8) {
    extents.push({ lengthBytes: payload.readUInt32BE(at), flags: payload.readUInt32BE(at + 4) });
  }
  return { ok: true, value: { contextId: payload.readUInt32BE(0), extents } };
}

/** UTF-8 bytes of `text`, cut at a character boundary to at most `maxBytes`. */
function truncateUtf8(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) so no character is cut in half.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}
