// The handshake of a connection the server will not serve (a connection cap is reached), as a
// pure state machine: the greeting goes as usual, so that the client can be told why in the one
// place the protocol has for it, an option's error reply (NBD_REP_ERR_POLICY with a message,
// which qemu prints as "server reported: ..." and libnbd keeps as the error). Then it closes.
//
// States and transitions:
//   client-flags --4 bytes--> options
//   options --NBD_OPT_ABORT--> closed (after its ACK)
//   options --NBD_OPT_EXPORT_NAME, bad magic, oversized option--> closed (no reply can say why)
//   options --NBD_OPT_GO / INFO / LIST--> closed (after NBD_REP_ERR_POLICY: the client's last try)
//   options --any other option--> options (after NBD_REP_ERR_POLICY), closed after
//                                 MAX_REFUSED_OPTIONS of them

import {
  CLIENT_FLAGS_BYTES,
  decodeOptionHeader,
  encodeGreeting,
  encodeOptionReply,
  OPTION_HEADER_BYTES,
} from "./handshake-codec.js";
import { HandshakeFlag, MAX_OPTION_BYTES, Option, OptionReply } from "./protocol.js";
import type { ReceiveBuffer } from "./receive-buffer.js";

/**
 * Options a refused client may send before we close: libnbd and qemu send up to four before
 * NBD_OPT_GO (STARTTLS, STRUCTURED_REPLY, EXTENDED_HEADERS, SET_META_CONTEXT); past that a client
 * is only keeping the connection.
 */
export const MAX_REFUSED_OPTIONS = 8;

/** Options after whose refusal a client has nothing left to try. */
const FINAL_OPTIONS: ReadonlySet<number> = new Set([Option.GO, Option.INFO, Option.LIST]);

export type RefusalStep =
  | { readonly next: "wait" }
  | { readonly next: "continue" | "close"; readonly replies: Buffer[] };

export class NbdRefusal {
  private readonly message: Buffer;
  private state: "client-flags" | "options" | "done" = "client-flags";
  private refused = 0;

  /** `message` says why, e.g. `Cannot accept a connection from 10.0.0.5: ...`. */
  constructor(message: string) {
    this.message = Buffer.from(message, "utf8");
  }

  greeting(): Buffer {
    return encodeGreeting(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
  }

  step(input: ReceiveBuffer): RefusalStep {
    if (this.state === "client-flags") {
      if (input.length < CLIENT_FLAGS_BYTES) return { next: "wait" };
      input.skip(CLIENT_FLAGS_BYTES);
      this.state = "options";
      return { next: "continue", replies: [] };
    }
    if (this.state === "done" || input.length < OPTION_HEADER_BYTES) return { next: "wait" };
    const header = decodeOptionHeader(input.peek(OPTION_HEADER_BYTES));
    if (!header.ok || header.value.lengthBytes > MAX_OPTION_BYTES) return this.close([]);
    const { option, lengthBytes } = header.value;
    if (input.length < OPTION_HEADER_BYTES + lengthBytes) return { next: "wait" };
    input.skip(OPTION_HEADER_BYTES + lengthBytes);
    if (option === Option.EXPORT_NAME) return this.close([]);
    if (option === Option.ABORT) {
      return this.close([encodeOptionReply({ option, type: OptionReply.ACK })]);
    }
    const reply = encodeOptionReply({ option, type: OptionReply.ERR_POLICY, data: this.message });
    this.refused += 1;
    if (FINAL_OPTIONS.has(option) || this.refused >= MAX_REFUSED_OPTIONS) {
      return this.close([reply]);
    }
    return { next: "continue", replies: [reply] };
  }

  private close(replies: Buffer[]): RefusalStep {
    this.state = "done";
    return { next: "close", replies };
  }
}
