import { describe, expect, it } from "vitest";
import { Command, CommandFlag, ReplyFlag, ReplyType } from "./protocol.js";
import {
  decodeBlockStatusPayload,
  decodeErrorPayload,
  decodeRequestHeader,
  decodeSimpleReply,
  decodeStructuredHeader,
  encodeBlockStatusChunk,
  encodeErrorChunk,
  encodeReadChunkHeader,
  encodeRequestHeader,
  encodeSimpleReply,
  encodeStructuredHeader,
  READ_CHUNK_HEADER_BYTES,
  REQUEST_HEADER_BYTES,
  STRUCTURED_HEADER_BYTES,
} from "./transmission-codec.js";

describe("transmission codec", () => {
  it("round-trips a request header, with a 64-bit handle and offset", () => {
    const request = {
      flags: CommandFlag.FUA,
      type: Command.WRITE,
      handle: 0xfedcba9876543210n,
      offsetBytes: 2 ** 40 + 4096,
      lengthBytes: 65536,
    };
    const bytes = encodeRequestHeader(request);
    expect(bytes.length).toBe(REQUEST_HEADER_BYTES);
    expect(bytes.subarray(0, 4).toString("hex")).toBe("25609513");
    expect(decodeRequestHeader(bytes)).toEqual({ ok: true, value: request });
  });

  it("refuses a request with a bad magic", () => {
    const bytes = encodeRequestHeader({
      flags: 0,
      type: Command.READ,
      handle: 1n,
      offsetBytes: 0,
      lengthBytes: 1,
    });
    bytes[3] ^= 1;
    expect(decodeRequestHeader(bytes)).toMatchObject({ ok: false });
  });

  it("decodes an offset past 2^53 as one still past the end of any export", () => {
    const bytes = Buffer.alloc(REQUEST_HEADER_BYTES);
    bytes.writeUInt32BE(0x25609513, 0);
    bytes.writeBigUInt64BE(0xffffffffffffffffn, 16);
    const decoded = decodeRequestHeader(bytes);
    expect(decoded.ok && decoded.value.offsetBytes >= 2 ** 64 - 2 ** 12).toBe(true);
  });

  it("round-trips a simple reply", () => {
    const bytes = encodeSimpleReply({ error: 22, handle: 7n });
    expect(bytes.toString("hex")).toBe("67446698" + "00000016" + "0000000000000007");
    expect(decodeSimpleReply(bytes)).toEqual({ ok: true, value: { error: 22, handle: 7n } });
    bytes[0] = 0;
    expect(decodeSimpleReply(bytes).ok).toBe(false);
  });

  it("round-trips a structured reply chunk header", () => {
    const header = { flags: ReplyFlag.DONE, type: ReplyType.NONE, handle: 9n, lengthBytes: 0 };
    const bytes = encodeStructuredHeader(header);
    expect(bytes.subarray(0, 4).toString("hex")).toBe("668e33ef");
    expect(decodeStructuredHeader(bytes)).toEqual({ ok: true, value: header });
    bytes[1] = 0;
    expect(decodeStructuredHeader(bytes).ok).toBe(false);
  });

  it("heads read data with one OFFSET_DATA chunk marked done", () => {
    const bytes = encodeReadChunkHeader({ handle: 3n, offsetBytes: 12345, dataBytes: 4096 });
    expect(bytes.length).toBe(READ_CHUNK_HEADER_BYTES);
    expect(decodeStructuredHeader(bytes)).toEqual({
      ok: true,
      value: { flags: ReplyFlag.DONE, type: ReplyType.OFFSET_DATA, handle: 3n, lengthBytes: 4104 },
    });
    expect(bytes.readBigUInt64BE(STRUCTURED_HEADER_BYTES)).toBe(12345n);
  });

  it("round-trips an error chunk and cuts its message at the string limit", () => {
    const bytes = encodeErrorChunk({ handle: 4n, error: 5, message: "Cannot read: disk" });
    const header = decodeStructuredHeader(bytes);
    expect(header).toMatchObject({ ok: true, value: { type: ReplyType.ERROR, handle: 4n } });
    expect(decodeErrorPayload(bytes.subarray(STRUCTURED_HEADER_BYTES))).toEqual({
      ok: true,
      value: { error: 5, message: "Cannot read: disk" },
    });
    const long = encodeErrorChunk({ handle: 4n, error: 5, message: "é".repeat(3000) });
    const payload = decodeErrorPayload(long.subarray(STRUCTURED_HEADER_BYTES));
    expect(payload.ok && payload.value.message).toBe("é".repeat(2048));
  });

  it("refuses an error payload whose message overruns it", () => {
    const payload = Buffer.from([0, 0, 0, 5, 0, 10, 65]);
    expect(decodeErrorPayload(payload).ok).toBe(false);
    expect(decodeErrorPayload(Buffer.alloc(3)).ok).toBe(false);
  });

  it("round-trips a block status chunk", () => {
    const extents = [
      { lengthBytes: 57344, flags: 0 },
      { lengthBytes: 4294967295, flags: 3 },
    ];
    const bytes = encodeBlockStatusChunk({ handle: 8n, contextId: 1, extents });
    expect(decodeStructuredHeader(bytes)).toMatchObject({
      ok: true,
      value: { flags: ReplyFlag.DONE, type: ReplyType.BLOCK_STATUS, lengthBytes: 4 + 16 },
    });
    expect(decodeBlockStatusPayload(bytes.subarray(STRUCTURED_HEADER_BYTES))).toEqual({
      ok: true,
      value: { contextId: 1, extents },
    });
    expect(decodeBlockStatusPayload(Buffer.alloc(8)).ok).toBe(false);
  });
});
