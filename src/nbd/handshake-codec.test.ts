import { describe, expect, it } from "vitest";
import {
  decodeClientFlags,
  decodeGreeting,
  decodeInfoRequest,
  decodeMetaContextRequest,
  decodeOptionHeader,
  decodeOptionReplyHeader,
  decodeString,
  EXPORT_NAME_REPLY_BYTES,
  EXPORT_NAME_ZEROES_BYTES,
  encodeClientFlags,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoRequest,
  encodeInfoString,
  encodeMetaContextData,
  encodeMetaContextRequest,
  encodeOption,
  encodeOptionReply,
  encodeServerData,
  OPTION_HEADER_BYTES,
  OPTION_REPLY_HEADER_BYTES,
} from "./handshake-codec.js";
import { Info, MAX_META_CONTEXT_QUERIES, Option, OptionReply } from "./protocol.js";

describe("handshake codec", () => {
  it("writes the greeting as NBDMAGIC, IHAVEOPT and the flags", () => {
    const greeting = encodeGreeting(3);
    expect(greeting.toString("hex")).toBe("4e42444d41474943" + "49484156454f5054" + "0003");
    expect(decodeGreeting(greeting)).toEqual({ ok: true, value: { flags: 3 } });
  });

  it("refuses a greeting without the magic", () => {
    const greeting = encodeGreeting(3);
    greeting[0] ^= 0xff;
    expect(decodeGreeting(greeting).ok).toBe(false);
  });

  it("round-trips client flags, including the high bit", () => {
    expect(decodeClientFlags(encodeClientFlags(0x80000003))).toBe(0x80000003);
  });

  it("round-trips an option header and keeps its data after it", () => {
    const option = encodeOption(Option.GO, Buffer.from("abc"));
    expect(option.length).toBe(OPTION_HEADER_BYTES + 3);
    expect(decodeOptionHeader(option)).toEqual({
      ok: true,
      value: { option: Option.GO, lengthBytes: 3 },
    });
    expect(option.subarray(OPTION_HEADER_BYTES).toString()).toBe("abc");
  });

  it("refuses an option that does not start with IHAVEOPT", () => {
    const option = encodeOption(Option.LIST);
    option.write("NOTMAGIC", 0);
    expect(decodeOptionHeader(option)).toMatchObject({ ok: false });
  });

  it("round-trips an option reply header", () => {
    const reply = encodeOptionReply({
      option: Option.LIST,
      type: OptionReply.ERR_UNSUP,
      data: Buffer.from("no"),
    });
    expect(reply.length).toBe(OPTION_REPLY_HEADER_BYTES + 2);
    expect(reply.subarray(0, 8).toString("hex")).toBe("0003e889045565a9");
    expect(decodeOptionReplyHeader(reply)).toEqual({
      ok: true,
      value: { option: Option.LIST, type: OptionReply.ERR_UNSUP, lengthBytes: 2 },
    });
  });

  it("pads the NBD_OPT_EXPORT_NAME reply with 124 zeros unless the client said NO_ZEROES", () => {
    const padded = encodeExportNameReply({ sizeBytes: 2 ** 40 + 5, flags: 0x0123, zeroes: true });
    expect(padded.length).toBe(EXPORT_NAME_REPLY_BYTES + EXPORT_NAME_ZEROES_BYTES);
    expect(padded.readBigUInt64BE(0)).toBe(2n ** 40n + 5n);
    expect(padded.readUInt16BE(8)).toBe(0x0123);
    expect(padded.subarray(10).every((byte) => byte === 0)).toBe(true);
    expect(encodeExportNameReply({ sizeBytes: 1, flags: 1, zeroes: false }).length).toBe(10);
  });

  it("lays out the information replies as the protocol draws them", () => {
    const exportInfo = encodeInfoExport({ sizeBytes: 17_203_200, flags: 0x1ed });
    expect(exportInfo.readUInt16BE(0)).toBe(Info.EXPORT);
    expect(exportInfo.readBigUInt64BE(2)).toBe(17_203_200n);
    expect(exportInfo.readUInt16BE(10)).toBe(0x1ed);
    const sizes = encodeInfoBlockSize({ minimumBytes: 1, preferredBytes: 4096, maximumBytes: 99 });
    expect(sizes.toString("hex")).toBe("0003" + "00000001" + "00001000" + "00000063");
    expect(encodeInfoString(Info.NAME, "VOL001").toString("hex")).toBe(
      `0001${Buffer.from("VOL001").toString("hex")}`,
    );
    expect(encodeServerData("AB").toString("hex")).toBe("000000024142");
    expect(encodeMetaContextData(1, "base:allocation").readUInt32BE(0)).toBe(1);
  });

  it("round-trips the data of NBD_OPT_GO", () => {
    const data = encodeInfoRequest({ name: "VOL001", infos: [Info.NAME, Info.BLOCK_SIZE] });
    expect(decodeInfoRequest(data)).toEqual({
      ok: true,
      value: { name: "VOL001", infos: [Info.NAME, Info.BLOCK_SIZE] },
    });
  });

  it("refuses NBD_OPT_GO data whose lengths do not add up", () => {
    const data = encodeInfoRequest({ name: "VOL001", infos: [Info.NAME] });
    expect(decodeInfoRequest(data.subarray(0, 5)).ok).toBe(false);
    expect(decodeInfoRequest(data.subarray(0, data.length - 1)).ok).toBe(false);
    expect(decodeInfoRequest(Buffer.concat([data, Buffer.from([0])])).ok).toBe(false);
    const overrun = Buffer.from(data);
    overrun.writeUInt32BE(0xffffffff, 0);
    expect(decodeInfoRequest(overrun).ok).toBe(false);
  });

  it("round-trips the data of the meta context options", () => {
    const request = { name: "VOL001", queries: ["base:allocation", "qemu:dirty-bitmap:x"] };
    expect(decodeMetaContextRequest(encodeMetaContextRequest(request))).toEqual({
      ok: true,
      value: request,
    });
    const none = { name: "", queries: [] };
    expect(decodeMetaContextRequest(encodeMetaContextRequest(none))).toEqual({
      ok: true,
      value: none,
    });
  });

  it("refuses meta context data that is cut short, overlong or has too many queries", () => {
    const data = encodeMetaContextRequest({ name: "VOL001", queries: ["base:allocation"] });
    for (let cut = 0; cut < data.length; cut += 1) {
      expect(decodeMetaContextRequest(data.subarray(0, cut)).ok).toBe(false);
    }
    expect(decodeMetaContextRequest(Buffer.concat([data, Buffer.from("x")])).ok).toBe(false);
    const many = encodeMetaContextRequest({
      name: "VOL001",
      queries: Array.from({ length: MAX_META_CONTEXT_QUERIES + 1 }, () => "base:"),
    });
    expect(decodeMetaContextRequest(many)).toMatchObject({ ok: false });
  });

  it("takes strings only when they are UTF-8 without NUL and within 4 KiB", () => {
    expect(decodeString(Buffer.from("VOL001"))).toEqual({ ok: true, value: "VOL001" });
    expect(decodeString(Buffer.from([0x56, 0x00])).ok).toBe(false);
    expect(decodeString(Buffer.from([0xc3, 0x28])).ok).toBe(false);
    expect(decodeString(Buffer.alloc(4097, 0x41)).ok).toBe(false);
    expect(decodeString(Buffer.alloc(4096, 0x41)).ok).toBe(true);
  });

  it("never throws on random option data", () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 2000; i += 1) {
      const data = Buffer.alloc(random() % 40);
      for (let j = 0; j < data.length; j += 1) data[j] = random() & (j < 4 ? 0x01 : 0xff);
      expect(() => decodeInfoRequest(data)).not.toThrow();
      expect(() => decodeMetaContextRequest(data)).not.toThrow();
    }
  });
});
