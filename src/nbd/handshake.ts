// The handshake of one NBD connection as a pure state machine: it reads client messages from a
// ReceiveBuffer and answers with the bytes to send, one message per step. The connection shell
// does the socket I/O around it.
//
// States and transitions:
//   client-flags --4 bytes, known flags--> options
//   client-flags --unknown flag--> closed (violation)
//   options --NBD_OPT_GO / NBD_OPT_EXPORT_NAME on a known export--> transmission
//   options --NBD_OPT_ABORT--> closed (clean)
//   options --NBD_OPT_EXPORT_NAME on an unknown export, bad magic, oversized option--> closed
//   options --any other option--> options (after its reply)
//   options --NBD_OPT_STARTTLS, TLS offered and not yet on--> tls (after its ACK)
//   tls --tlsStarted(): the connection finished the TLS handshake--> options
//
// TLS modes (docs/nbd.md, "TLS"): "off" answers NBD_OPT_STARTTLS with NBD_REP_ERR_POLICY; "on"
// (the protocol's SELECTIVETLS with no TLS-only export) accepts it but serves plain clients too;
// "require" (FORCEDTLS) answers every option but STARTTLS and ABORT with NBD_REP_ERR_TLS_REQD until
// TLS is on, and closes on NBD_OPT_EXPORT_NAME, which has no error reply.

import assert from "node:assert/strict";
import type { ExportDirectory, NbdExport } from "./export-directory.js";
import {
  CLIENT_FLAGS_BYTES,
  decodeClientFlags,
  decodeInfoRequest,
  decodeMetaContextRequest,
  decodeOptionHeader,
  decodeString,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoString,
  encodeMetaContextData,
  encodeOptionReply,
  encodeServerData,
  OPTION_HEADER_BYTES,
} from "./handshake-codec.js";
import {
  BASE_ALLOCATION,
  BASE_ALLOCATION_ID,
  ClientFlag,
  HandshakeFlag,
  Info,
  KNOWN_CLIENT_FLAGS,
  MAX_OPTION_BYTES,
  MAX_PAYLOAD_BYTES,
  MIN_BLOCK_BYTES,
  Option,
  OptionReply,
  optionName,
  PREFERRED_BLOCK_BYTES,
  TransmissionFlag,
} from "./protocol.js";
import type { ReceiveBuffer } from "./receive-buffer.js";

/** What the handshake agreed on, for the transmission phase. */
export interface Session {
  readonly export: NbdExport;
  readonly flags: number;
  readonly structuredReplies: boolean;
  /** base:allocation was selected for this export: NBD_CMD_BLOCK_STATUS is allowed. */
  readonly allocationContext: boolean;
}

export type HandshakeStep =
  /** Not a whole message yet; nothing was consumed. */
  | { readonly next: "wait" }
  /** One message consumed and answered; step again. */
  | { readonly next: "continue"; readonly replies: Buffer[] }
  | { readonly next: "transmission"; readonly replies: Buffer[]; readonly session: Session }
  /** Send the replies (the STARTTLS ACK), run the TLS handshake, then call tlsStarted(). */
  | { readonly next: "starttls"; readonly replies: Buffer[] }
  /** Close after sending the replies; `reason` says why when the client did not ask to. */
  | { readonly next: "close"; readonly replies: Buffer[]; readonly reason?: string };

const SERVER_FLAGS = HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES;

/** The transmission flags of an export: everything we support, less writes when read-only. */
export function transmissionFlags(target: NbdExport, structuredReplies: boolean): number {
  let flags =
    TransmissionFlag.HAS_FLAGS |
    TransmissionFlag.SEND_FLUSH |
    TransmissionFlag.SEND_FUA |
    TransmissionFlag.CAN_MULTI_CONN;
  if (target.readOnly) flags |= TransmissionFlag.READ_ONLY;
  else flags |= TransmissionFlag.SEND_TRIM | TransmissionFlag.SEND_WRITE_ZEROES;
  // Every read is answered with one data chunk, so "don't fragment" costs nothing to honour.
  if (structuredReplies) flags |= TransmissionFlag.SEND_DF;
  return flags;
}

/** Whether the server offers TLS, and whether it serves anything before it. */
export type NbdTlsMode = "off" | "on" | "require";

export class Handshake {
  private readonly exports: ExportDirectory;
  private readonly tlsMode: NbdTlsMode;
  private state: "client-flags" | "options" | "tls" | "done" = "client-flags";
  /** The TLS handshake finished: every byte from here on is encrypted. */
  private tlsOn = false;
  private noZeroes = false;
  private structuredReplies = false;
  /** The export base:allocation was selected for by the last NBD_OPT_SET_META_CONTEXT. */
  private allocationExport: string | undefined;

  constructor(exports: ExportDirectory, options: { tlsMode?: NbdTlsMode } = {}) {
    this.exports = exports;
    this.tlsMode = options.tlsMode ?? "off";
  }

  /** True once the client is talking over TLS. */
  get tls(): boolean {
    return this.tlsOn;
  }

  /**
   * The connection finished the TLS handshake that NBD_OPT_STARTTLS asked for. What was agreed in
   * plain text is forgotten, as nbdkit and qemu-nbd do: a man in the middle could have sent it.
   */
  tlsStarted(): void {
    assert.equal(this.state, "tls");
    this.tlsOn = true;
    this.structuredReplies = false;
    this.allocationExport = undefined;
    this.state = "options";
  }

  /** The server's first bytes. */
  greeting(): Buffer {
    return encodeGreeting(SERVER_FLAGS);
  }

  step(input: ReceiveBuffer): HandshakeStep {
    if (this.state === "client-flags") return this.clientFlags(input);
    if (this.state === "options") return this.option(input);
    return { next: "wait" };
  }

  private clientFlags(input: ReceiveBuffer): HandshakeStep {
    if (input.length < CLIENT_FLAGS_BYTES) return { next: "wait" };
    const flags = decodeClientFlags(input.take(CLIENT_FLAGS_BYTES));
    if ((flags & ~KNOWN_CLIENT_FLAGS) !== 0) {
      return this.close(`client flags 0x${flags.toString(16)} include unknown bits`);
    }
    this.noZeroes = (flags & ClientFlag.NO_ZEROES) !== 0;
    this.state = "options";
    return { next: "continue", replies: [] };
  }

  private option(input: ReceiveBuffer): HandshakeStep {
    if (input.length < OPTION_HEADER_BYTES) return { next: "wait" };
    const header = decodeOptionHeader(input.peek(OPTION_HEADER_BYTES));
    if (!header.ok) return this.close(header.reason);
    const { option, lengthBytes } = header.value;
    if (lengthBytes > MAX_OPTION_BYTES) {
      return this.close(
        `${optionName(option)} claims ${lengthBytes} bytes, over the ${MAX_OPTION_BYTES}-byte limit`,
      );
    }
    if (input.length < OPTION_HEADER_BYTES + lengthBytes) return { next: "wait" };
    input.skip(OPTION_HEADER_BYTES);
    return this.answer(option, input.take(lengthBytes));
  }

  private answer(option: number, data: Buffer): HandshakeStep {
    if (this.tlsMode === "require" && !this.tlsOn) {
      if (option === Option.EXPORT_NAME) {
        return this.close("NBD_OPT_EXPORT_NAME came before NBD_OPT_STARTTLS: TLS is required");
      }
      if (option !== Option.STARTTLS && option !== Option.ABORT) {
        return refuse(option, OptionReply.ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS");
      }
    }
    switch (option) {
      case Option.EXPORT_NAME:
        return this.exportName(data);
      case Option.ABORT:
        this.state = "done";
        return { next: "close", replies: [encodeOptionReply({ option, type: OptionReply.ACK })] };
      case Option.LIST:
        return this.list(data);
      case Option.INFO:
      case Option.GO:
        return this.info(option, data);
      case Option.STRUCTURED_REPLY:
        if (data.length !== 0) return refuse(option, OptionReply.ERR_INVALID, "it takes no data");
        this.structuredReplies = true;
        return reply([encodeOptionReply({ option, type: OptionReply.ACK })]);
      case Option.LIST_META_CONTEXT:
      case Option.SET_META_CONTEXT:
        return this.metaContext(option, data);
      case Option.STARTTLS:
        return this.startTls(data);
      default:
        return refuse(option, OptionReply.ERR_UNSUP, "the server does not support it");
    }
  }

  private exportName(data: Buffer): HandshakeStep {
    const name = decodeString(data);
    if (!name.ok) return this.close(`NBD_OPT_EXPORT_NAME: ${name.reason}`);
    const target = this.exports.find(name.value);
    if (target === undefined) return this.close(`NBD_OPT_EXPORT_NAME: no export "${name.value}"`);
    const session = this.session(target);
    const bytes = encodeExportNameReply({
      sizeBytes: target.sizeBytes,
      flags: session.flags,
      zeroes: !this.noZeroes,
    });
    this.state = "done";
    return { next: "transmission", replies: [bytes], session };
  }

  private startTls(data: Buffer): HandshakeStep {
    const option = Option.STARTTLS;
    if (this.tlsMode === "off") {
      return refuse(option, OptionReply.ERR_POLICY, "TLS is off on this server (--nbd-tls)");
    }
    if (data.length !== 0) return refuse(option, OptionReply.ERR_INVALID, "it takes no data");
    if (this.tlsOn) return refuse(option, OptionReply.ERR_INVALID, "TLS is already on");
    this.state = "tls";
    return { next: "starttls", replies: [encodeOptionReply({ option, type: OptionReply.ACK })] };
  }

  private list(data: Buffer): HandshakeStep {
    const option = Option.LIST;
    if (data.length !== 0) return refuse(option, OptionReply.ERR_INVALID, "it takes no data");
    const replies = this.exports
      .names()
      .map((name) =>
        encodeOptionReply({ option, type: OptionReply.SERVER, data: encodeServerData(name) }),
      );
    replies.push(encodeOptionReply({ option, type: OptionReply.ACK }));
    return reply(replies);
  }

  private info(option: number, data: Buffer): HandshakeStep {
    const request = decodeInfoRequest(data);
    if (!request.ok) return refuse(option, OptionReply.ERR_INVALID, request.reason);
    const { name, infos } = request.value;
    const target = this.exports.find(name);
    if (target === undefined) {
      return refuse(option, OptionReply.ERR_UNKNOWN, `no volume has the VOLSER "${name}"`);
    }
    const session = this.session(target);
    const items = [
      encodeInfoExport({ sizeBytes: target.sizeBytes, flags: session.flags }),
      // Sent whether asked for or not: the protocol allows it, and the values are the defaults
      // any client copes with, except the 32 MiB maximum every client already keeps to.
      encodeInfoBlockSize({
        minimumBytes: MIN_BLOCK_BYTES,
        preferredBytes: PREFERRED_BLOCK_BYTES,
        maximumBytes: MAX_PAYLOAD_BYTES,
      }),
    ];
    if (infos.includes(Info.NAME)) items.push(encodeInfoString(Info.NAME, target.name));
    if (infos.includes(Info.DESCRIPTION)) {
      items.push(encodeInfoString(Info.DESCRIPTION, target.description));
    }
    const replies = items.map((item) =>
      encodeOptionReply({ option, type: OptionReply.INFO, data: item }),
    );
    replies.push(encodeOptionReply({ option, type: OptionReply.ACK }));
    if (option === Option.INFO) return reply(replies);
    this.state = "done";
    return { next: "transmission", replies, session };
  }

  private metaContext(option: number, data: Buffer): HandshakeStep {
    const setting = option === Option.SET_META_CONTEXT;
    // A SET replaces the selection even when it fails.
    if (setting) this.allocationExport = undefined;
    if (setting && !this.structuredReplies) {
      return refuse(option, OptionReply.ERR_INVALID, "structured replies are not negotiated");
    }
    const request = decodeMetaContextRequest(data);
    if (!request.ok) return refuse(option, OptionReply.ERR_INVALID, request.reason);
    const { name, queries } = request.value;
    if (this.exports.find(name) === undefined) {
      return refuse(option, OptionReply.ERR_UNKNOWN, `no volume has the VOLSER "${name}"`);
    }
    // "base:" lists every base context but selects none; unknown contexts are ignored.
    const matches = (query: string) => query === BASE_ALLOCATION || (!setting && query === "base:");
    const found = setting ? queries.some(matches) : queries.length === 0 || queries.some(matches);
    const replies: Buffer[] = [];
    if (found) {
      const id = setting ? BASE_ALLOCATION_ID : 0;
      const context = encodeMetaContextData(id, BASE_ALLOCATION);
      replies.push(encodeOptionReply({ option, type: OptionReply.META_CONTEXT, data: context }));
      if (setting) this.allocationExport = name;
    }
    replies.push(encodeOptionReply({ option, type: OptionReply.ACK }));
    return reply(replies);
  }

  private session(target: NbdExport): Session {
    return {
      export: target,
      flags: transmissionFlags(target, this.structuredReplies),
      structuredReplies: this.structuredReplies,
      allocationContext: this.structuredReplies && this.allocationExport === target.name,
    };
  }

  private close(reason: string): HandshakeStep {
    this.state = "done";
    return { next: "close", replies: [], reason };
  }
}

function reply(replies: Buffer[]): HandshakeStep {
  return { next: "continue", replies };
}

function refuse(option: number, type: number, why: string): HandshakeStep {
  const message = Buffer.from(`Cannot accept ${optionName(option)}: ${why}`, "utf8");
  return reply([encodeOptionReply({ option, type, data: message })]);
}
