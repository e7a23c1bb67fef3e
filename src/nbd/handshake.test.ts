import { describe, expect, it } from "vitest";
import type { ExportDirectory, NbdExport } from "./export-directory.js";
import { Handshake, type HandshakeStep, type NbdTlsMode } from "./handshake.js";
import {
  decodeOptionReplyHeader,
  encodeClientFlags,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
  OPTION_REPLY_HEADER_BYTES,
} from "./handshake-codec.js";
import {
  BASE_ALLOCATION,
  ClientFlag,
  Info,
  MAX_OPTION_BYTES,
  Option,
  OptionReply,
  TransmissionFlag,
} from "./protocol.js";
import { ReceiveBuffer } from "./receive-buffer.js";

const volumes: NbdExport[] = [
  {
    name: "VOL001",
    sizeBytes: 17_203_200,
    readOnly: false,
    trackSizeBytes: 57_344,
    description: "one",
  },
  { name: "VOL002", sizeBytes: 57_344, readOnly: true, trackSizeBytes: 57_344, description: "two" },
];

const directory: ExportDirectory = {
  names: () => volumes.map((volume) => volume.name),
  find: (name) => volumes.find((volume) => volume.name === name),
};

const FLAGS = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES;

/** Feeds bytes and steps until the machine waits or leaves the option phase. */
function feed(handshake: Handshake, input: ReceiveBuffer, bytes: Buffer[]) {
  for (const chunk of bytes) input.push(chunk);
  const replies: Buffer[] = [];
  let step: HandshakeStep;
  for (;;) {
    step = handshake.step(input);
    if (step.next === "wait") break;
    replies.push(...step.replies);
    if (step.next !== "continue") break;
  }
  return { step, replies: parseReplies(Buffer.concat(replies)), raw: Buffer.concat(replies) };
}

function parseReplies(bytes: Buffer): { option: number; type: number; data: Buffer }[] {
  const replies = [];
  let at = 0;
  while (at + OPTION_REPLY_HEADER_BYTES <= bytes.length) {
    const header = decodeOptionReplyHeader(bytes.subarray(at));
    if (!header.ok) break;
    const start = at + OPTION_REPLY_HEADER_BYTES;
    const data = bytes.subarray(start, start + header.value.lengthBytes);
    replies.push({ option: header.value.option, type: header.value.type, data });
    at = start + header.value.lengthBytes;
  }
  return replies;
}

function started(flags = FLAGS, tlsMode: NbdTlsMode = "off") {
  const handshake = new Handshake(directory, { tlsMode });
  const input = new ReceiveBuffer();
  feed(handshake, input, [encodeClientFlags(flags)]);
  return { handshake, input };
}

describe("handshake", () => {
  it("greets with fixed newstyle and no zeroes", () => {
    expect(new Handshake(directory).greeting().readUInt16BE(16)).toBe(0b11);
  });

  it("waits for a whole option before answering it", () => {
    const { handshake, input } = started();
    const option = encodeOption(Option.LIST);
    expect(feed(handshake, input, [option.subarray(0, 10)]).step.next).toBe("wait");
    const { replies } = feed(handshake, input, [option.subarray(10)]);
    expect(replies.map((reply) => reply.type)).toEqual([
      OptionReply.SERVER,
      OptionReply.SERVER,
      OptionReply.ACK,
    ]);
    expect(replies[1].data.subarray(4).toString()).toBe("VOL002");
  });

  it("closes on client flags it does not know", () => {
    const handshake = new Handshake(directory);
    const { step } = feed(handshake, new ReceiveBuffer(), [encodeClientFlags(0x4)]);
    expect(step).toMatchObject({ next: "close", reason: expect.stringContaining("unknown") });
  });

  it("goes to transmission with NBD_OPT_GO, sending the export, block sizes and an ACK", () => {
    const { handshake, input } = started();
    const data = encodeInfoRequest({ name: "VOL001", infos: [Info.NAME, Info.DESCRIPTION] });
    const { step, replies } = feed(handshake, input, [encodeOption(Option.GO, data)]);
    expect(step.next).toBe("transmission");
    const infos = replies.filter((reply) => reply.type === OptionReply.INFO);
    expect(infos.map((reply) => reply.data.readUInt16BE(0)).sort()).toEqual([0, 1, 2, 3]);
    const exportInfo = infos.find((reply) => reply.data.readUInt16BE(0) === Info.EXPORT);
    expect(exportInfo?.data.readBigUInt64BE(2)).toBe(17_203_200n);
    expect(replies.at(-1)?.type).toBe(OptionReply.ACK);
    if (step.next === "transmission") {
      expect(step.session).toMatchObject({ structuredReplies: false, allocationContext: false });
      expect(step.session.flags & TransmissionFlag.SEND_DF).toBe(0);
    }
  });

  it("answers NBD_OPT_INFO for an unknown export with NBD_REP_ERR_UNKNOWN and keeps going", () => {
    const { handshake, input } = started();
    const data = encodeInfoRequest({ name: "NOPE", infos: [] });
    const { step, replies } = feed(handshake, input, [encodeOption(Option.INFO, data)]);
    expect(step.next).toBe("wait");
    expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_UNKNOWN]);
    expect(replies[0].data.toString()).toContain("NOPE");
  });

  it("marks a read-only export READ_ONLY and does not offer trim or write zeroes", () => {
    const { handshake, input } = started();
    const data = encodeInfoRequest({ name: "VOL002", infos: [] });
    const { step } = feed(handshake, input, [encodeOption(Option.GO, data)]);
    expect(step.next).toBe("transmission");
    if (step.next !== "transmission") return;
    const flags = step.session.flags;
    expect(flags & TransmissionFlag.READ_ONLY).toBeTruthy();
    expect(flags & (TransmissionFlag.SEND_TRIM | TransmissionFlag.SEND_WRITE_ZEROES)).toBe(0);
  });

  it("selects base:allocation for the export that NBD_OPT_GO then opens", () => {
    const { handshake, input } = started();
    const set = encodeMetaContextRequest({ name: "VOL001", queries: [BASE_ALLOCATION, "x-a:b"] });
    const go = encodeInfoRequest({ name: "VOL001", infos: [] });
    const { step, replies } = feed(handshake, input, [
      encodeOption(Option.STRUCTURED_REPLY),
      encodeOption(Option.SET_META_CONTEXT, set),
      encodeOption(Option.GO, go),
    ]);
    expect(replies.slice(0, 3).map((reply) => reply.type)).toEqual([
      OptionReply.ACK,
      OptionReply.META_CONTEXT,
      OptionReply.ACK,
    ]);
    expect(replies[1].data.subarray(4).toString()).toBe(BASE_ALLOCATION);
    expect(step).toMatchObject({
      next: "transmission",
      session: { structuredReplies: true, allocationContext: true },
    });
  });

  it("drops the selected context when NBD_OPT_GO opens another export", () => {
    const { handshake, input } = started();
    const set = encodeMetaContextRequest({ name: "VOL001", queries: [BASE_ALLOCATION] });
    const go = encodeInfoRequest({ name: "VOL002", infos: [] });
    const { step } = feed(handshake, input, [
      encodeOption(Option.STRUCTURED_REPLY),
      encodeOption(Option.SET_META_CONTEXT, set),
      encodeOption(Option.GO, go),
    ]);
    expect(step).toMatchObject({ next: "transmission", session: { allocationContext: false } });
  });

  it("refuses NBD_OPT_SET_META_CONTEXT before structured replies", () => {
    const { handshake, input } = started();
    const set = encodeMetaContextRequest({ name: "VOL001", queries: [BASE_ALLOCATION] });
    const { replies } = feed(handshake, input, [encodeOption(Option.SET_META_CONTEXT, set)]);
    expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_INVALID]);
  });

  it("lists base:allocation for no query and for the base: wildcard, nothing for others", () => {
    const { handshake, input } = started();
    const list = (queries: string[]) =>
      feed(handshake, input, [
        encodeOption(
          Option.LIST_META_CONTEXT,
          encodeMetaContextRequest({ name: "VOL001", queries }),
        ),
      ]).replies.map((reply) => reply.type);
    const found = [OptionReply.META_CONTEXT, OptionReply.ACK];
    expect(list([])).toEqual(found);
    expect(list(["base:"])).toEqual(found);
    expect(list(["qemu:dirty-bitmap:x"])).toEqual([OptionReply.ACK]);
  });

  it("answers an unknown option with NBD_REP_ERR_UNSUP and skips its data", () => {
    const { handshake, input } = started();
    const { replies, step } = feed(handshake, input, [
      encodeOption(4),
      encodeOption(99, Buffer.alloc(300, 7)),
      encodeOption(Option.EXTENDED_HEADERS),
      encodeOption(Option.LIST, Buffer.from("x")),
    ]);
    expect(replies.map((reply) => reply.type)).toEqual([
      OptionReply.ERR_UNSUP,
      OptionReply.ERR_UNSUP,
      OptionReply.ERR_UNSUP,
      OptionReply.ERR_INVALID,
    ]);
    expect(step.next).toBe("wait");
  });

  it("ends option haggling with NBD_OPT_ABORT after an ACK", () => {
    const { handshake, input } = started();
    const { step, replies } = feed(handshake, input, [encodeOption(Option.ABORT)]);
    expect(step).toEqual({ next: "close", replies: expect.any(Array) });
    expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ACK]);
  });

  it("goes to transmission with NBD_OPT_EXPORT_NAME, zero padded unless NO_ZEROES", () => {
    const padded = started(ClientFlag.FIXED_NEWSTYLE);
    const withZeroes = feed(padded.handshake, padded.input, [
      encodeOption(Option.EXPORT_NAME, Buffer.from("VOL001")),
    ]);
    expect(withZeroes.step.next).toBe("transmission");
    expect(withZeroes.raw.length).toBe(134);
    const bare = started();
    const without = feed(bare.handshake, bare.input, [
      encodeOption(Option.EXPORT_NAME, Buffer.from("VOL001")),
    ]);
    expect(without.raw.length).toBe(10);
    expect(without.raw.readBigUInt64BE(0)).toBe(17_203_200n);
  });

  it("closes when NBD_OPT_EXPORT_NAME names no export, as the protocol requires", () => {
    const { handshake, input } = started();
    const { step } = feed(handshake, input, [
      encodeOption(Option.EXPORT_NAME, Buffer.from("NOPE")),
    ]);
    expect(step).toMatchObject({ next: "close", reason: expect.stringContaining("NOPE") });
  });

  it("closes on an option without IHAVEOPT or one that claims more than the limit", () => {
    const bad = started();
    const option = encodeOption(Option.LIST);
    option.write("GARBAGE!", 0);
    expect(feed(bad.handshake, bad.input, [option]).step.next).toBe("close");
    const big = started();
    const header = encodeOption(Option.GO);
    header.writeUInt32BE(MAX_OPTION_BYTES + 1, 12);
    expect(feed(big.handshake, big.input, [header]).step).toMatchObject({
      next: "close",
      reason: expect.stringContaining("limit"),
    });
  });

  it("answers malformed NBD_OPT_GO data with NBD_REP_ERR_INVALID", () => {
    const { handshake, input } = started();
    const { replies } = feed(handshake, input, [encodeOption(Option.GO, Buffer.from([0, 0]))]);
    expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_INVALID]);
  });

  it("refuses NBD_OPT_STARTTLS with NBD_REP_ERR_POLICY when TLS is off", () => {
    const { handshake, input } = started();
    const { replies } = feed(handshake, input, [encodeOption(Option.STARTTLS)]);
    expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_POLICY]);
    expect(handshake.tls).toBe(false);
  });
});

describe("handshake with TLS", () => {
  const go = () => encodeOption(Option.GO, encodeInfoRequest({ name: "VOL001", infos: [] }));

  it("serves plain clients when TLS is on, and upgrades one that sends NBD_OPT_STARTTLS", () => {
    const { handshake, input } = started(FLAGS, "on");
    const plain = feed(handshake, input, [encodeOption(Option.LIST)]);
    expect(plain.replies.map((reply) => reply.type)).toEqual([
      OptionReply.SERVER,
      OptionReply.SERVER,
      OptionReply.ACK,
    ]);
    const upgrade = feed(handshake, input, [encodeOption(Option.STARTTLS)]);
    expect(upgrade.step.next).toBe("starttls");
    expect(upgrade.replies).toEqual([
      { option: Option.STARTTLS, type: OptionReply.ACK, data: Buffer.alloc(0) },
    ]);
    // Nothing is parsed while the TLS handshake runs.
    input.push(encodeOption(Option.LIST));
    expect(handshake.step(input)).toEqual({ next: "wait" });
    handshake.tlsStarted();
    expect(handshake.tls).toBe(true);
    expect(feed(handshake, input, []).replies.at(-1)?.type).toBe(OptionReply.ACK);
  });

  it("answers everything but STARTTLS and ABORT with NBD_REP_ERR_TLS_REQD in require mode", () => {
    const { handshake, input } = started(FLAGS, "require");
    const { replies, step } = feed(handshake, input, [
      encodeOption(Option.LIST),
      encodeOption(Option.STRUCTURED_REPLY),
      encodeOption(Option.INFO, encodeInfoRequest({ name: "VOL001", infos: [] })),
      go(),
      encodeOption(
        Option.LIST_META_CONTEXT,
        encodeMetaContextRequest({ name: "VOL001", queries: [] }),
      ),
      encodeOption(99),
    ]);
    expect(replies.map((reply) => reply.type)).toEqual(Array(6).fill(OptionReply.ERR_TLS_REQD));
    expect(replies[0].data.toString()).toContain("NBD_OPT_STARTTLS");
    expect(step.next).toBe("wait");
    const abort = feed(handshake, input, [encodeOption(Option.ABORT)]);
    expect(abort.step.next).toBe("close");
    expect(abort.replies.map((reply) => reply.type)).toEqual([OptionReply.ACK]);
  });

  it("closes on NBD_OPT_EXPORT_NAME before TLS in require mode: that option has no error reply", () => {
    const { handshake, input } = started(FLAGS, "require");
    const { step, raw } = feed(handshake, input, [
      encodeOption(Option.EXPORT_NAME, Buffer.from("VOL001")),
    ]);
    expect(step).toMatchObject({ next: "close", reason: expect.stringContaining("TLS") });
    expect(raw.length).toBe(0);
  });

  it("serves every option over TLS in require mode, and refuses a second STARTTLS", () => {
    const { handshake, input } = started(FLAGS, "require");
    expect(feed(handshake, input, [encodeOption(Option.STARTTLS)]).step.next).toBe("starttls");
    handshake.tlsStarted();
    const again = feed(handshake, input, [encodeOption(Option.STARTTLS)]);
    expect(again.replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_INVALID]);
    expect(again.replies[0].data.toString()).toContain("already");
    const opened = feed(handshake, input, [go()]);
    expect(opened.step.next).toBe("transmission");
  });

  it("forgets structured replies and meta contexts agreed before TLS", () => {
    const { handshake, input } = started(FLAGS, "on");
    feed(handshake, input, [
      encodeOption(Option.STRUCTURED_REPLY),
      encodeOption(
        Option.SET_META_CONTEXT,
        encodeMetaContextRequest({ name: "VOL001", queries: [BASE_ALLOCATION] }),
      ),
      encodeOption(Option.STARTTLS),
    ]);
    handshake.tlsStarted();
    const { step } = feed(handshake, input, [go()]);
    expect(step).toMatchObject({
      next: "transmission",
      session: { structuredReplies: false, allocationContext: false },
    });
  });

  it("answers NBD_OPT_STARTTLS with data with NBD_REP_ERR_INVALID and stays in plain text", () => {
    const { handshake, input } = started(FLAGS, "require");
    const { replies, step } = feed(handshake, input, [
      encodeOption(Option.STARTTLS, Buffer.from("x")),
    ]);
    expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_INVALID]);
    expect(step.next).toBe("wait");
    expect(feed(handshake, input, [encodeOption(Option.STARTTLS)]).step.next).toBe("starttls");
  });
});
