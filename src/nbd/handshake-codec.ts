// Byte layouts of the NBD fixed newstyle handshake, both directions (the server uses the decoders
// of client messages and the encoders of its own; tests and tools use the rest). Pure: no I/O.
// All integers are big-endian.
//
// Greeting, server to client (18 bytes):
//   0       8        16      18
//   | NBDMAGIC | IHAVEOPT | flags u16 |
// Client flags, client to server: u32.
// Option, client to server (16 bytes + data):
//   0          8          12         16
//   | IHAVEOPT | option u32 | length u32 | data[length]
// Option reply, server to client (20 bytes + data):
//   0                  8          12       16         20
//   | 0x0003e889045565a9 | option u32 | type u32 | length u32 | data[length]
// NBD_OPT_EXPORT_NAME reply: size u64, transmission flags u16, 124 zero bytes unless NO_ZEROES.
// NBD_OPT_INFO / NBD_OPT_GO data: name length u32, name, request count u16, info type u16 each.
// NBD_OPT_{LIST,SET}_META_CONTEXT data: name length u32, name, query count u32,
//   then per query: length u32, query.

import {
  Info,
  MAX_META_CONTEXT_QUERIES,
  MAX_STRING_BYTES,
  NBD_MAGIC,
  OPTION_MAGIC,
  OPTION_REPLY_MAGIC,
} from "./protocol.js";

export type Decoded<T> = { readonly ok: true; readonly value: T } | DecodeFailure;
export interface DecodeFailure {
  readonly ok: false;
  readonly reason: string;
}

export const GREETING_BYTES = 18;
export const CLIENT_FLAGS_BYTES = 4;
export const OPTION_HEADER_BYTES = 16;
export const OPTION_REPLY_HEADER_BYTES = 20;
export const EXPORT_NAME_REPLY_BYTES = 10;
export const EXPORT_NAME_ZEROES_BYTES = 124;

export interface OptionHeader {
  readonly option: number;
  readonly lengthBytes: number;
}

export interface OptionReplyHeader {
  readonly option: number;
  readonly type: number;
  readonly lengthBytes: number;
}

export interface InfoRequest {
  readonly name: string;
  readonly infos: readonly number[];
}

export interface MetaContextRequest {
  readonly name: string;
  readonly queries: readonly string[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function fail(reason: string): DecodeFailure {
  return { ok: false, reason };
}

/** A protocol string: valid UTF-8, no NUL, at most 4 KiB. */
export function decodeString(bytes: Buffer): Decoded<string> {
  if (bytes.length > MAX_STRING_BYTES) {
    return fail(`a string of ${bytes.length} bytes is over the ${MAX_STRING_BYTES}-byte limit`);
  }
  if (bytes.includes(0)) return fail("a string contains NUL");
  try {
    return { ok: true, value: utf8.decode(bytes) };
  } catch {
    return fail("a string is not valid UTF-8");
  }
}

export function encodeGreeting(flags: number): Buffer {
  const buffer = Buffer.allocUnsafe(GREETING_BYTES);
  buffer.writeBigUInt64BE(NBD_MAGIC, 0);
  buffer.writeBigUInt64BE(OPTION_MAGIC, 8);
  buffer.writeUInt16BE(flags, 16);
  return buffer;
}

export function decodeGreeting(bytes: Buffer): Decoded<{ flags: number }> {
  if (bytes.readBigUInt64BE(0) !== NBD_MAGIC) return fail("the greeting lacks NBDMAGIC");
  if (bytes.readBigUInt64BE(8) !== OPTION_MAGIC) return fail("the server is not newstyle");
  return { ok: true, value: { flags: bytes.readUInt16BE(16) } };
}

export function encodeClientFlags(flags: number): Buffer {
  const buffer = Buffer.allocUnsafe(CLIENT_FLAGS_BYTES);
  buffer.writeUInt32BE(flags >>> 0, 0);
  return buffer;
}

export function decodeClientFlags(bytes: Buffer): number {
  return bytes.readUInt32BE(0);
}

export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const buffer = Buffer.allocUnsafe(OPTION_HEADER_BYTES + data.length);
  buffer.writeBigUInt64BE(OPTION_MAGIC, 0);
  buffer.writeUInt32BE(option, 8);
  buffer.writeUInt32BE(data.length, 12);
  data.copy(buffer, OPTION_HEADER_BYTES);
  return buffer;
}

export function decodeOptionHeader(bytes: Buffer): Decoded<OptionHeader> {
  if (bytes.readBigUInt64BE(0) !== OPTION_MAGIC) return fail("an option lacks IHAVEOPT");
  return {
    ok: true,
    value: { option: bytes.readUInt32BE(8), lengthBytes: bytes.readUInt32BE(12) },
  };
}

export function encodeOptionReply(reply: { option: number; type: number; data?: Buffer }): Buffer {
  const data = reply.data ?? Buffer.alloc(0);
  const buffer = Buffer.allocUnsafe(OPTION_REPLY_HEADER_BYTES + data.length);
  buffer.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  buffer.writeUInt32BE(reply.option, 8);
  buffer.writeUInt32BE(reply.type, 12);
  buffer.writeUInt32BE(data.length, 16);
  data.copy(buffer, OPTION_REPLY_HEADER_BYTES);
  return buffer;
}

export function decodeOptionReplyHeader(bytes: Buffer): Decoded<OptionReplyHeader> {
  if (bytes.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) return fail("an option reply lacks magic");
  const option = bytes.readUInt32BE(8);
  return {
    ok: true,
    value: { option, type: bytes.readUInt32BE(12), lengthBytes: bytes.readUInt32BE(16) },
  };
}

export function encodeExportNameReply(reply: {
  sizeBytes: number;
  flags: number;
  zeroes: boolean;
}): Buffer {
  const length = EXPORT_NAME_REPLY_BYTES + (reply.zeroes ? EXPORT_NAME_ZEROES_BYTES : 0);
  const buffer = Buffer.alloc(length);
  buffer.writeBigUInt64BE(BigInt(reply.sizeBytes), 0);
  buffer.writeUInt16BE(reply.flags, 8);
  return buffer;
}

/** NBD_REP_SERVER data: the export's name with its length in front. */
export function encodeServerData(name: string): Buffer {
  const nameBytes = Buffer.from(name, "utf8");
  const buffer = Buffer.allocUnsafe(4 + nameBytes.length);
  buffer.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(buffer, 4);
  return buffer;
}

/** NBD_REP_INFO data of type NBD_INFO_EXPORT. */
export function encodeInfoExport(info: { sizeBytes: number; flags: number }): Buffer {
  const buffer = Buffer.allocUnsafe(12);
  buffer.writeUInt16BE(Info.EXPORT, 0);
  buffer.writeBigUInt64BE(BigInt(info.sizeBytes), 2);
  buffer.writeUInt16BE(info.flags, 10);
  return buffer;
}

/** NBD_REP_INFO data of type NBD_INFO_BLOCK_SIZE. */
export function encodeInfoBlockSize(sizes: {
  minimumBytes: number;
  preferredBytes: number;
  maximumBytes: number;
}): Buffer {
  const buffer = Buffer.allocUnsafe(14);
  buffer.writeUInt16BE(Info.BLOCK_SIZE, 0);
  buffer.writeUInt32BE(sizes.minimumBytes, 2);
  buffer.writeUInt32BE(sizes.preferredBytes, 6);
  buffer.writeUInt32BE(sizes.maximumBytes, 10);
  return buffer;
}

/** NBD_REP_INFO data of a string type (NBD_INFO_NAME, NBD_INFO_DESCRIPTION). */
export function encodeInfoString(type: number, text: string): Buffer {
  const textBytes = Buffer.from(text, "utf8");
  const buffer = Buffer.allocUnsafe(2 + textBytes.length);
  buffer.writeUInt16BE(type, 0);
  textBytes.copy(buffer, 2);
  return buffer;
}

/** NBD_REP_META_CONTEXT data: the context id, then its name. */
export function encodeMetaContextData(id: number, name: string): Buffer {
  const nameBytes = Buffer.from(name, "utf8");
  const buffer = Buffer.allocUnsafe(4 + nameBytes.length);
  buffer.writeUInt32BE(id, 0);
  nameBytes.copy(buffer, 4);
  return buffer;
}

export function encodeInfoRequest(request: InfoRequest): Buffer {
  const nameBytes = Buffer.from(request.name, "utf8");
  const buffer = Buffer.allocUnsafe(4 + nameBytes.length + 2 + 2 * request.infos.length);
  buffer.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(buffer, 4);
  let at = buffer.writeUInt16BE(request.infos.length, 4 + nameBytes.length);
  for (const info of request.infos) at = buffer.writeUInt16BE(info, at);
  return buffer;
}

/** NBD_OPT_INFO and NBD_OPT_GO data; any length that does not add up is refused. */
export function decodeInfoRequest(data: Buffer): Decoded<InfoRequest> {
  if (data.length < 6) return fail(`the option data is ${data.length} bytes, under 6`);
  const nameBytes = data.readUInt32BE(0);
  if (nameBytes > data.length - 6) return fail(`the export name length ${nameBytes} overruns`);
  const name = decodeString(data.subarray(4, 4 + nameBytes));
  if (!name.ok) return name;
  const count = data.readUInt16BE(4 + nameBytes);
  const expected = 4 + nameBytes + 2 + 2 * count;
  if (data.length !== expected) {
    return fail(`${count} information requests need ${expected} bytes, not ${data.length}`);
  }
  const infos: number[] = [];
  for (let i = 0; i < count; i += 1) infos.push(data.readUInt16BE(4 + nameBytes + 2 + 2 * i));
  return { ok: true, value: { name: name.value, infos } };
}

export function encodeMetaContextRequest(request: MetaContextRequest): Buffer {
  const parts = [Buffer.from(request.name, "utf8")];
  for (const query of request.queries) parts.push(Buffer.from(query, "utf8"));
  const total = parts.reduce((sum, part) => sum + 4 + part.length, 4);
  const buffer = Buffer.allocUnsafe(total);
  let at = buffer.writeUInt32BE(parts[0].length, 0);
  at += parts[0].copy(buffer, at);
  at = buffer.writeUInt32BE(request.queries.length, at);
  for (const part of parts.slice(1)) {
    at = buffer.writeUInt32BE(part.length, at);
    at += part.copy(buffer, at);
  }
  return buffer;
}

/** NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT data. */
export function decodeMetaContextRequest(data: Buffer): Decoded<MetaContextRequest> {
  const name = lengthPrefixedString(data, 0);
  if (!name.ok) return name;
  let at = name.value.end;
  if (at + 4 > data.length) return fail("the query count is missing");
  const count = data.readUInt32BE(at);
  at += 4;
  if (count > MAX_META_CONTEXT_QUERIES) {
    return fail(`${count} queries are over the limit of ${MAX_META_CONTEXT_QUERIES}`);
  }
  const queries: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const query = lengthPrefixedString(data, at);
    if (!query.ok) return query;
    queries.push(query.value.text);
    at = query.value.end;
  }
  if (at !== data.length) return fail(`${data.length - at} bytes follow the last query`);
  return { ok: true, value: { name: name.value.text, queries } };
}

function lengthPrefixedString(data: Buffer, at: number): Decoded<{ text: string; end: number }> {
  if (at + 4 > data.length) return fail("a string length is missing");
  const length = data.readUInt32BE(at);
  if (length > data.length - at - 4) return fail(`a string length ${length} overruns the data`);
  const text = decodeString(data.subarray(at + 4, at + 4 + length));
  if (!text.ok) return text;
  return { ok: true, value: { text: text.value, end: at + 4 + length } };
}
