// Checks a transmission request against what the handshake agreed, before the store is touched:
// an unknown command, a flag the command does not take, a write to a read-only export or a range
// outside the export is refused here with its errno. Pure: no I/O.

import { Errno } from "./errno.js";
import type { Session } from "./handshake.js";
import { Command, CommandFlag, MAX_PAYLOAD_BYTES } from "./protocol.js";
import type { Request } from "./transmission-codec.js";

export interface Refusal {
  readonly errno: number;
  readonly message: string;
}

/** Names of the commands, as the observer and the logs see them. */
const COMMAND_NAMES: Record<number, string> = {
  [Command.READ]: "read",
  [Command.WRITE]: "write",
  [Command.DISC]: "disc",
  [Command.FLUSH]: "flush",
  [Command.TRIM]: "trim",
  [Command.WRITE_ZEROES]: "write_zeroes",
  [Command.BLOCK_STATUS]: "block_status",
};

/**
 * The flags each command takes. FUA is valid on every command once NBD_FLAG_SEND_FUA is
 * advertised (the protocol says so, and clients do set it on reads); DF only with structured
 * replies, which is when NBD_FLAG_SEND_DF is advertised.
 */
const ALLOWED_FLAGS: Record<number, number> = {
  [Command.READ]: CommandFlag.FUA | CommandFlag.DF,
  [Command.WRITE]: CommandFlag.FUA,
  [Command.FLUSH]: CommandFlag.FUA,
  [Command.TRIM]: CommandFlag.FUA,
  [Command.WRITE_ZEROES]: CommandFlag.FUA | CommandFlag.NO_HOLE,
  [Command.BLOCK_STATUS]: CommandFlag.FUA | CommandFlag.REQ_ONE,
};

const WRITING_COMMANDS: ReadonlySet<number> = new Set([
  Command.WRITE,
  Command.TRIM,
  Command.WRITE_ZEROES,
]);

export function commandName(type: number): string {
  return COMMAND_NAMES[type] ?? "unknown";
}

/** Why the request must be refused, or undefined when the store may run it. */
export function checkRequest(request: Request, session: Session): Refusal | undefined {
  const { type, flags, offsetBytes, lengthBytes } = request;
  const name = COMMAND_NAMES[type];
  const allowed = ALLOWED_FLAGS[type];
  if (name === undefined || allowed === undefined) {
    return einval(`Cannot run command ${type}: the server does not know it`);
  }
  let accepted = allowed;
  if (!session.structuredReplies) accepted &= ~CommandFlag.DF;
  if ((flags & ~accepted) !== 0) {
    return einval(`Cannot ${name}: flags 0x${flags.toString(16)} are not valid for it`);
  }
  if (WRITING_COMMANDS.has(type) && session.export.readOnly) {
    return {
      errno: Errno.EPERM,
      message: `Cannot ${name} export "${session.export.name}": it is read-only`,
    };
  }
  if (type === Command.FLUSH) {
    if (offsetBytes !== 0 || lengthBytes !== 0) {
      return einval("Cannot flush: the offset and length of a flush must be zero");
    }
    return undefined;
  }
  if (type === Command.BLOCK_STATUS && !session.allocationContext) {
    return einval("Cannot report block status: base:allocation was not selected for the export");
  }
  if (type === Command.READ && lengthBytes > MAX_PAYLOAD_BYTES) {
    return einval(`Cannot read ${lengthBytes} bytes: the limit is ${MAX_PAYLOAD_BYTES}`);
  }
  if (lengthBytes === 0) return einval(`Cannot ${name} 0 bytes: a request covers at least one`);
  const sizeBytes = session.export.sizeBytes;
  if (offsetBytes > sizeBytes || lengthBytes > sizeBytes - offsetBytes) {
    return einval(
      `Cannot ${name} ${lengthBytes} bytes at offset ${offsetBytes} of export ` +
        `"${session.export.name}": it holds ${sizeBytes} bytes`,
    );
  }
  return undefined;
}

function einval(message: string): Refusal {
  return { errno: Errno.EINVAL, message };
}
