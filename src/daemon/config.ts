// The configuration of `gsnap serve`: defaults, an optional JSON config file, and flags, merged in
// that order (flags win) and validated. Pure logic apart from reading the file.

import fs from "node:fs";
import { GsnapError } from "../errors/gsnap-error.js";
import { checkSerial, checkSsid, DEFAULT_SSID } from "../geometry/names.js";
import {
  CHUNKS_SETTING_KEYS,
  type ChunksConfig,
  type ChunksSettings,
  resolveChunks,
} from "./chunks-config.js";
import {
  LIMITS_SETTING_KEYS,
  type LimitsConfig,
  type LimitsSettings,
  resolveLimits,
} from "./limits-config.js";
import {
  NBD_TLS_SETTING_KEYS,
  type NbdTlsConfig,
  type NbdTlsSettings,
  resolveNbdTls,
} from "./nbd-tls-config.js";
import { PEERS_SETTING_KEYS, type PeersSettings, resolvePeers } from "./peers-config.js";
import { secretOf } from "./secrets-config.js";

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ServeConfig {
  readonly data: string;
  /** Undefined: generated once and kept in the data dir. */
  readonly serial?: string;
  readonly ssids: readonly string[];
  readonly api: HostPort;
  readonly nbd: HostPort;
  /** NBD over TLS; undefined: off (NBD_OPT_STARTTLS refused). */
  readonly nbdTls?: NbdTlsConfig;
  readonly link: HostPort;
  /**
   * The secret of peer links shared by every peer without one of its own; with neither this nor
   * `linkPeers`: no link listener, no paths made.
   */
  readonly linkSecret?: string;
  /** Link secrets by peer serial (docs/link-protocol.md, "Authentication"). */
  readonly linkPeers?: ReadonlyMap<string, string>;
  /** A peer's GSC reservations here are released this long after its job's last request. */
  readonly reservationTimeoutMs: number;
  /** TLS for peer links (both ways) when a certificate and key are given. */
  readonly linkTls?: LinkTlsConfig;
  /** Undefined: generated once, kept in the data dir, printed at first start. */
  readonly token?: string;
  readonly logLevel: string;
  /** How long a sync pair's write waits for the secondary before the pair suspends. */
  readonly syncTimeoutMs: number;
  /** Pairs suspended by a restart or a link failure resume by themselves once the path is up. */
  readonly autoResume: boolean;
  /** Where chunks live: local segment files, or an S3 object store. */
  readonly chunks: ChunksConfig;
  /** The write-back journal's capacity in bytes. */
  readonly journalBytes: number;
  /** Bytes kept free in the data dir for the collector on a full disk (0: none). */
  readonly spaceReserveBytes: number;
  /** Connection caps and timeouts of the NBD, API and link ports. */
  readonly limits: LimitsConfig;
}

export interface LinkTlsConfig {
  readonly certPath: string;
  readonly keyPath: string;
  /** The CA (or the peers' self-signed certificate) that outgoing links trust; default the system's. */
  readonly caPath?: string;
}

/** The keys a config file and the flags share, as the user writes them. */
export interface ServeSettings
  extends ChunksSettings,
    LimitsSettings,
    NbdTlsSettings,
    PeersSettings {
  data?: string;
  serial?: string;
  ssid?: string | string[];
  api?: string;
  nbd?: string;
  link?: string;
  linkSecret?: string;
  /** A file holding the link secret, so that it is not on the command line for `ps` to show. */
  linkSecretFile?: string;
  linkCert?: string;
  linkKey?: string;
  linkCa?: string;
  token?: string;
  /** A file holding the API token, for the same reason. */
  tokenFile?: string;
  logLevel?: string;
  /** Milliseconds, 1 to 600000. */
  syncTimeout?: string | number;
  /** false: pairs stay suspended after a restart or a link failure until `pair resume`. */
  autoResume?: boolean;
  /** MiB of write-back journal, 16 to 16384. */
  journalMib?: string | number;
  /** MiB, 0 to 65536. */
  spaceReserveMib?: string | number;
}

export const DEFAULT_SETTINGS = {
  data: "./gsnap-data",
  ssid: DEFAULT_SSID,
  api: "127.0.0.1:8480",
  nbd: "127.0.0.1:10809",
  link: "127.0.0.1:8481",
  logLevel: "info",
  syncTimeout: 5_000,
  autoResume: true,
  journalMib: 128,
  spaceReserveMib: 64,
} as const;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const SETTING_KEYS = [
  "data",
  "serial",
  "ssid",
  "api",
  "nbd",
  "link",
  "linkSecret",
  "linkSecretFile",
  "linkCert",
  "linkKey",
  "linkCa",
  "token",
  "tokenFile",
  "logLevel",
  "syncTimeout",
  "autoResume",
  "journalMib",
  "spaceReserveMib",
  ...CHUNKS_SETTING_KEYS,
  ...LIMITS_SETTING_KEYS,
  ...NBD_TLS_SETTING_KEYS,
  ...PEERS_SETTING_KEYS,
];

/** Reads a JSON config file of ServeSettings; unknown keys are refused, not ignored. */
export function readConfigFile(file: string): ServeSettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot read config file "${file}": ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot read config file "${file}": it is not a JSON object`,
    );
  }
  for (const key of Object.keys(parsed)) {
    if (!SETTING_KEYS.includes(key)) {
      throw new GsnapError(
        "REQUEST_INVALID",
        `Cannot read config file "${file}": unknown key "${key}" (known: ${SETTING_KEYS.join(", ")})`,
      );
    }
  }
  return parsed as ServeSettings;
}

export function resolveConfig(fromFile: ServeSettings, fromFlags: ServeSettings): ServeConfig {
  const merged = { ...DEFAULT_SETTINGS, ...dropUndefined(fromFile), ...dropUndefined(fromFlags) };
  const ssidList = Array.isArray(merged.ssid) ? merged.ssid : String(merged.ssid).split(",");
  const ssids = [...new Set(ssidList.map((ssid) => checkSsid(ssid.trim())))];
  if (!LOG_LEVELS.includes(merged.logLevel)) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use log level "${merged.logLevel}": use one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  const peers = resolvePeers(merged);
  return {
    data: merged.data,
    serial: merged.serial === undefined ? undefined : checkSerial(merged.serial),
    ssids,
    api: parseHostPort(merged.api, "api"),
    nbd: parseHostPort(merged.nbd, "nbd"),
    nbdTls: resolveNbdTls(merged),
    link: parseHostPort(merged.link, "link"),
    linkSecret: checkLinkSecret(
      secretOf(merged, { value: "linkSecret", file: "linkSecretFile", what: "link secret" }),
    ),
    linkPeers: peers.linkPeers,
    reservationTimeoutMs: peers.reservationTimeoutMs,
    linkTls: linkTlsOf(merged),
    token: secretOf(merged, { value: "token", file: "tokenFile", what: "API token" }),
    logLevel: merged.logLevel,
    syncTimeoutMs: checkSyncTimeout(merged.syncTimeout),
    autoResume: checkBoolean(merged.autoResume, "autoResume"),
    chunks: resolveChunks(merged),
    journalBytes: checkMib(merged.journalMib, JOURNAL_MIB),
    spaceReserveBytes: checkMib(merged.spaceReserveMib, SPACE_RESERVE_MIB),
    limits: resolveLimits(merged),
  };
}

/** At least 16 MiB (one journal file); at most 16 GiB, which replay would take long to read. */
const JOURNAL_MIB = { flag: "--journal-mib", min: 16, max: 16_384 };
/** A reserve past 64 GiB would keep more from the data than a collector ever needs. */
const SPACE_RESERVE_MIB = { flag: "--space-reserve-mib", min: 0, max: 65_536 };

/** A whole number of MiB within limits, in bytes. */
function checkMib(value: unknown, limits: { flag: string; min: number; max: number }): number {
  // Only a number or the text of one: Number(true) or Number([5]) would pass for one.
  const mib = typeof value === "number" || typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isInteger(mib) || mib < limits.min || mib > limits.max) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use ${limits.flag} "${String(value)}": use a whole number of MiB from ${limits.min} to ${limits.max}`,
    );
  }
  return mib * 1024 * 1024;
}

/** A JSON true or false; text such as "no" is refused rather than read as true. */
function checkBoolean(value: unknown, key: string): boolean {
  if (typeof value === "boolean") return value;
  throw new GsnapError(
    "REQUEST_INVALID",
    `Cannot use ${key} ${JSON.stringify(value)}: give true or false`,
  );
}

/** A sync timeout past 10 minutes would outlast any host's own I/O timeout by far. */
const MAX_SYNC_TIMEOUT_MS = 600_000;

function checkSyncTimeout(value: string | number): number {
  // Only a number or the text of one: Number(true) or Number([5]) would pass for one.
  const ms = typeof value === "number" || typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_SYNC_TIMEOUT_MS) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use sync timeout "${value}": give milliseconds from 1 to ${MAX_SYNC_TIMEOUT_MS}`,
    );
  }
  return ms;
}

function checkLinkSecret(secret: string | undefined): string | undefined {
  if (secret === undefined) return undefined;
  if (typeof secret !== "string") {
    throw new GsnapError("REQUEST_INVALID", "Cannot use the link secret: it is not text");
  }
  if (secret === "") {
    throw new GsnapError("REQUEST_INVALID", "Cannot use the link secret: it is empty");
  }
  return secret;
}

/** TLS is on when a certificate and its key are given; one without the other is a mistake. */
function linkTlsOf(settings: ServeSettings): LinkTlsConfig | undefined {
  const { linkCert, linkKey, linkCa } = settings;
  for (const [name, value] of Object.entries({ linkCert, linkKey, linkCa })) {
    if (value !== undefined && typeof value !== "string") {
      throw new GsnapError("REQUEST_INVALID", `Cannot use ${name}: give a file path`);
    }
  }
  if (linkCert === undefined && linkKey === undefined) {
    if (linkCa === undefined) return undefined;
    throw new GsnapError(
      "REQUEST_INVALID",
      "Cannot use --link-ca: link TLS also needs --link-cert and --link-key",
    );
  }
  if (linkCert === undefined || linkKey === undefined) {
    throw new GsnapError(
      "REQUEST_INVALID",
      "Cannot use link TLS: give both --link-cert and --link-key",
    );
  }
  return { certPath: linkCert, keyPath: linkKey, caPath: linkCa };
}

/** Parses `HOST:PORT` or `[IPV6]:PORT`; port 0 asks the system for a free one. */
export function parseHostPort(text: string, what: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || port > 65_535) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use ${what} address "${text}": write it as HOST:PORT`,
    );
  }
  return { host: match[1] ?? match[2], port };
}

export function formatHostPort(address: HostPort): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/** The settings that are set: a flag or key left undefined says nothing. */
export function dropUndefined(settings: ServeSettings): ServeSettings {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
}
