// NBD over TLS as `gsnap serve` is told it: `--nbd-tls off|on|require` with either pre-shared keys
// (`--nbd-tls-psk FILE`, psktool's format) or an X.509 certificate and key (`--nbd-tls-cert`,
// `--nbd-tls-key`, and `--nbd-tls-ca` to require client certificates that CA signed). Checking the
// settings is pure; loadNbdTls reads the files, at start, so a bad one stops the start.

import fs from "node:fs";
import tls from "node:tls";
import { GsnapError } from "../errors/gsnap-error.js";
import type { NbdTls, NbdTlsCredentials } from "../nbd/nbd-tls.js";
import { parsePskKeys } from "../nbd/psk-keys.js";

/** The TLS settings, as a config file or the flags give them. */
export interface NbdTlsSettings {
  /** off (the default), on or require. */
  nbdTls?: string;
  nbdTlsPsk?: string;
  nbdTlsCert?: string;
  nbdTlsKey?: string;
  nbdTlsCa?: string;
}

export const NBD_TLS_SETTING_KEYS = [
  "nbdTls",
  "nbdTlsPsk",
  "nbdTlsCert",
  "nbdTlsKey",
  "nbdTlsCa",
] as const;

/** Checked settings: file paths, not yet read. */
export interface NbdTlsConfig {
  readonly mode: NbdTls["mode"];
  readonly credentials:
    | { readonly kind: "psk"; readonly pskPath: string }
    | {
        readonly kind: "x509";
        readonly certPath: string;
        readonly keyPath: string;
        readonly caPath?: string;
      };
}

const MODES = ["off", "on", "require"];

/** Undefined when TLS is off; refuses modes, and credentials missing, mixed or given for nothing. */
export function resolveNbdTls(settings: NbdTlsSettings): NbdTlsConfig | undefined {
  const { nbdTls, nbdTlsPsk, nbdTlsCert, nbdTlsKey, nbdTlsCa } = settings;
  const files = { nbdTlsPsk, nbdTlsCert, nbdTlsKey, nbdTlsCa };
  for (const [key, value] of Object.entries(files)) {
    if (value !== undefined && (typeof value !== "string" || value === "")) {
      throw invalid(`Cannot use ${flag(key)}: give a file path`);
    }
  }
  const given = Object.keys(files).filter((key) => files[key as keyof typeof files] !== undefined);
  if (nbdTls !== undefined && (typeof nbdTls !== "string" || !MODES.includes(nbdTls))) {
    throw invalid(`Cannot use --nbd-tls ${JSON.stringify(nbdTls)}: use off, on or require`);
  }
  if (nbdTls === undefined || nbdTls === "off") {
    // Keys given without a mode were most likely meant to turn TLS on: say so rather than serve
    // in plain text. An explicit off keeps them unused, to switch TLS off for a while.
    if (nbdTls === undefined && given.length > 0) {
      throw invalid(
        `Cannot use ${flag(given[0])}: NBD TLS is off; give --nbd-tls on or --nbd-tls require`,
      );
    }
    return undefined;
  }
  const mode = nbdTls as NbdTls["mode"];
  if (nbdTlsPsk !== undefined) {
    const other = given.find((key) => key !== "nbdTlsPsk");
    if (other !== undefined) {
      throw invalid(`Cannot use ${flag(other)} with --nbd-tls-psk: use keys or certificates`);
    }
    return { mode, credentials: { kind: "psk", pskPath: nbdTlsPsk } };
  }
  if (nbdTlsCert === undefined || nbdTlsKey === undefined) {
    throw invalid(
      `Cannot use --nbd-tls ${mode}: give --nbd-tls-psk FILE, or --nbd-tls-cert and --nbd-tls-key`,
    );
  }
  return {
    mode,
    credentials: { kind: "x509", certPath: nbdTlsCert, keyPath: nbdTlsKey, caPath: nbdTlsCa },
  };
}

/** Reads the key or certificate files; one that cannot be read or used is refused, named. */
export function loadNbdTls(config: NbdTlsConfig): NbdTls {
  const { credentials } = config;
  if (credentials.kind === "psk") {
    const text = readSecret(credentials.pskPath, "--nbd-tls-psk");
    const keys = parsePskKeys(text);
    if (!keys.ok) {
      throw invalid(`Cannot use the NBD TLS keys in "${credentials.pskPath}": ${keys.reason}`);
    }
    return { mode: config.mode, credentials: { kind: "psk", keys: keys.value } };
  }
  const x509: NbdTlsCredentials = {
    kind: "x509",
    cert: Buffer.from(readSecret(credentials.certPath, "--nbd-tls-cert")),
    key: Buffer.from(readSecret(credentials.keyPath, "--nbd-tls-key")),
    ca:
      credentials.caPath === undefined
        ? undefined
        : Buffer.from(readSecret(credentials.caPath, "--nbd-tls-ca")),
  };
  try {
    // Built once here only to check: a PEM that does not parse, or a key that is not the
    // certificate's, would otherwise first fail at a client's STARTTLS.
    tls.createSecureContext({ cert: x509.cert, key: x509.key, ca: x509.ca });
  } catch (error) {
    throw invalid(
      `Cannot use the NBD TLS certificate "${credentials.certPath}" with key "${credentials.keyPath}"${credentials.caPath === undefined ? "" : ` and CA "${credentials.caPath}"`}: ${(error as Error).message}`,
      error,
    );
  }
  return { mode: config.mode, credentials: x509 };
}

function readSecret(file: string, what: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    throw invalid(`Cannot read ${what} "${file}": ${(error as Error).message}`, error);
  }
}

/** "--nbd-tls-psk" for "nbdTlsPsk". */
function flag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function invalid(message: string, cause?: unknown): GsnapError {
  return new GsnapError("REQUEST_INVALID", message, cause === undefined ? undefined : { cause });
}
