// The pre-shared keys of NBD over TLS-PSK, in the format GnuTLS's psktool writes and nbdkit and
// qemu-nbd read: one `identity:hexkey` line per client. Pure: the daemon reads the file.

import type { Decoded } from "./handshake-codec.js";

/**
 * The longest identity we accept: GnuTLS clients send at most 128 bytes (MAX_USERNAME_SIZE), so a
 * longer line cannot be a key any client could use.
 */
export const MAX_PSK_IDENTITY_BYTES = 128;

/** The longest key: OpenSSL's PSK_MAX_PSK_LEN, the most a PSK callback may return. */
export const MAX_PSK_KEY_BYTES = 512;

/** Keys in one file: far more clients than one storage system serves, and a bound on memory. */
export const MAX_PSK_KEYS = 10_000;

/** Parses a psktool file into identity → key; the reason names the line that is wrong. */
export function parsePskKeys(text: string): Decoded<ReadonlyMap<string, Buffer>> {
  const keys = new Map<string, Buffer>();
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index];
    if (line.trim() === "") continue;
    const where = `line ${index + 1}`;
    // The first colon ends the identity, as GnuTLS reads the same file.
    const colon = line.indexOf(":");
    if (colon <= 0) return fail(`${where} is not IDENTITY:HEXKEY`);
    const identity = line.slice(0, colon);
    const hex = line.slice(colon + 1);
    if (Buffer.byteLength(identity, "utf8") > MAX_PSK_IDENTITY_BYTES) {
      return fail(`${where}: the identity is over ${MAX_PSK_IDENTITY_BYTES} bytes`);
    }
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
      return fail(`${where}: the key of "${identity}" is not an even number of hex digits`);
    }
    if (hex.length / 2 > MAX_PSK_KEY_BYTES) {
      return fail(`${where}: the key of "${identity}" is over ${MAX_PSK_KEY_BYTES} bytes`);
    }
    if (keys.has(identity)) return fail(`${where}: "${identity}" has a key already`);
    if (keys.size === MAX_PSK_KEYS) return fail(`it holds over ${MAX_PSK_KEYS} keys`);
    keys.set(identity, Buffer.from(hex, "hex"));
  }
  if (keys.size === 0) return fail("it holds no IDENTITY:HEXKEY line");
  return { ok: true, value: keys };
}

function fail(reason: string): Decoded<never> {
  return { ok: false, reason };
}
