// What `gsnap serve` is told about its peers: a link secret per peer serial, and how long a
// peer's GSC reservations outlive its silence.
//
// Per-peer secrets come from `--link-peer SERIAL:SECRET_FILE` (repeatable; config key `linkPeer`,
// a string or a list) and from `--link-peers FILE` (config key `linkPeers`), a file of
// `SERIAL:SECRET` lines, with blank lines and `#` comments, in the form of psktool's key files
// that `--nbd-tls-psk` reads. A serial named twice is refused, even with the same secret: one of
// the two is a mistake. The files are read here, at start, so that a bad one stops the start
// with REQUEST_INVALID naming the flag or the file and its line.

import fs from "node:fs";
import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { checkSerial } from "../geometry/names.js";

export interface PeersSettings {
  /** `SERIAL:SECRET_FILE`, one or a list. */
  linkPeer?: string | string[];
  /** A file of `SERIAL:SECRET` lines. */
  linkPeers?: string;
  /** Seconds, 1 to 604800. */
  reservationTimeout?: string | number;
}

export const PEERS_SETTING_KEYS = ["linkPeer", "linkPeers", "reservationTimeout"] as const;

export interface PeersConfig {
  /** Secrets by peer serial; undefined when none were given. */
  readonly linkPeers?: ReadonlyMap<string, string>;
  /** A peer's reservations on this system are released this long after its last request. */
  readonly reservationTimeoutMs: number;
}

/**
 * An hour: a GSC step talks to its target every few seconds (tracks, or CONTROL requests), so an
 * hour of silence means the source is gone, while a source that restarts within it still finds
 * what its job reserved.
 */
export const DEFAULT_RESERVATION_TIMEOUT_SECONDS = 3_600;
/** A week: longer than that, a forgotten reservation keeps a volume from its users for good. */
const MAX_RESERVATION_TIMEOUT_SECONDS = 604_800;

export function resolvePeers(settings: PeersSettings): PeersConfig {
  const peers = new Map<string, string>();
  const add = (serial: string, secret: string, where: string) => {
    if (peers.has(serial)) throw invalid(`${where}: serial "${serial}" is named twice`);
    peers.set(serial, secret);
  };
  for (const entry of listOf(settings.linkPeer)) {
    const [serial, file] = splitEntry(entry, `--link-peer "${entry}"`, "SERIAL:SECRET_FILE");
    add(serial, readSecretFile(file), `Cannot use --link-peer "${entry}"`);
  }
  if (settings.linkPeers !== undefined) {
    const file = settings.linkPeers;
    if (typeof file !== "string" || file === "") {
      throw invalid("Cannot use --link-peers: give a file path");
    }
    for (const { serial, secret, line } of readPeersFile(file)) {
      add(serial, secret, `Cannot use --link-peers file "${file}" line ${line}`);
    }
  }
  return {
    linkPeers: peers.size === 0 ? undefined : peers,
    reservationTimeoutMs: checkTimeout(
      settings.reservationTimeout ?? DEFAULT_RESERVATION_TIMEOUT_SECONDS,
    ),
  };
}

/** The entries of a peers file: `SERIAL:SECRET` lines; blank lines and `#` comments skipped. */
export function parsePeersFile(
  text: string,
  file: string,
): { serial: string; secret: string; line: number }[] {
  const entries: { serial: string; secret: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const where = `--link-peers file "${file}" line ${index + 1}`;
    const [serial, secret] = splitEntry(trimmed, where, "SERIAL:SECRET");
    entries.push({ serial, secret, line: index + 1 });
  });
  return entries;
}

function readPeersFile(file: string): { serial: string; secret: string; line: number }[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw invalid(`Cannot read --link-peers file "${file}": ${(error as Error).message}`, error);
  }
  return parsePeersFile(text, file);
}

/**
 * `SERIAL:REST` with a valid serial and something after the colon. The messages never quote the
 * entry, which may hold a secret; `where` names it.
 */
function splitEntry(entry: unknown, where: string, form: string): [string, string] {
  if (typeof entry !== "string") throw invalid(`Cannot use ${where}: write it as ${form}`);
  const colon = entry.indexOf(":");
  const serial = colon < 0 ? "" : entry.slice(0, colon);
  const rest = colon < 0 ? "" : entry.slice(colon + 1);
  if (serial === "" || rest === "") throw invalid(`Cannot use ${where}: write it as ${form}`);
  try {
    return [checkSerial(serial), rest];
  } catch (error) {
    if (!isGsnapError(error)) throw error;
    throw invalid(`Cannot use ${where}: ${error.message}`, error);
  }
}

/** A secret file holds one line, not empty; the trailing newline is dropped. */
function readSecretFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw invalid(
      `Cannot read the link secret of --link-peer from "${file}": ${(error as Error).message}`,
      error,
    );
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret === "" || secret.includes("\n")) {
    throw invalid(`Cannot use the link secret in "${file}": it must hold one line, not empty`);
  }
  return secret;
}

function checkTimeout(value: unknown): number {
  // Only a number or the text of one: Number(true) or Number([5]) would pass for one.
  const seconds =
    typeof value === "number" || typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_RESERVATION_TIMEOUT_SECONDS) {
    throw invalid(
      `Cannot use --reservation-timeout "${String(value)}": give whole seconds from 1 to ${MAX_RESERVATION_TIMEOUT_SECONDS}`,
    );
  }
  return seconds * 1000;
}

function listOf(value: string | string[] | undefined): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function invalid(message: string, cause?: unknown): GsnapError {
  return new GsnapError("REQUEST_INVALID", message, cause === undefined ? undefined : { cause });
}
