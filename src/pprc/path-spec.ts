// What a path is made of, checked: the local SSID, the remote `SERIAL.SSID` and 1 to 8 link
// addresses `HOST:PORT`. Pure logic: every bad input gets its typed error here, before any I/O.

import { GsnapError } from "../errors/gsnap-error.js";
import { checkSerial, checkSsid } from "../geometry/names.js";

/**
 * A path has at most this many links: the DS8000's limit per logical path, and more connections
 * between two systems add no bandwidth that the window of 64 requests per link does not give.
 */
export const MAX_LINKS_PER_PATH = 8;

/** A path as it is kept in paths.json and asked for by the API. */
export interface PathSpec {
  readonly ssid: string;
  readonly remoteSerial: string;
  readonly remoteSsid: string;
  readonly links: readonly string[];
}

export interface EstablishRequest {
  readonly ssid: string;
  /** `SERIAL.SSID` of the remote subsystem. */
  readonly to: string;
  readonly links: readonly string[];
  /**
   * Keep the path even when no link comes up at the first try (its links go on trying); by
   * default such a path is removed and the request fails with PATH_FAILED.
   */
  readonly keepFailed?: boolean;
}

/** The one key of a path: no two paths join the same local and remote subsystems. */
export function pathKey(path: { ssid: string; remoteSerial: string; remoteSsid: string }): string {
  return `${path.ssid}>${path.remoteSerial}.${path.remoteSsid}`;
}

/** Parses `SERIAL.SSID`: a serial (SERIAL_INVALID), a dot, an SSID (SSID_INVALID). */
export function parseRemote(to: string): { remoteSerial: string; remoteSsid: string } {
  const dot = to.lastIndexOf(".");
  if (dot < 0) {
    throw new GsnapError(
      "SERIAL_INVALID",
      `Cannot use remote subsystem "${to}": write it as SERIAL.SSID, like 0000000002.01A0`,
    );
  }
  return { remoteSerial: checkSerial(to.slice(0, dot)), remoteSsid: checkSsid(to.slice(dot + 1)) };
}

/** Parses `HOST:PORT` or `[IPV6]:PORT` with a port from 1 to 65535. */
export function parseLinkAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || port < 1 || port > 65_535) {
    throw new GsnapError(
      "LINK_ADDRESS_INVALID",
      `Cannot use link address "${address}": write it as HOST:PORT with a port from 1 to 65535`,
    );
  }
  return { host: match[1] ?? match[2], port };
}

/** Checks a request to establish a path from one of `localSsids`; returns the path it asks for. */
export function checkEstablish(request: EstablishRequest, localSsids: readonly string[]): PathSpec {
  const ssid = checkSsid(request.ssid);
  if (!localSsids.includes(ssid)) {
    throw new GsnapError(
      "SSID_INVALID",
      `Cannot establish a path from subsystem "${ssid}": this system's subsystems are ${localSsids.join(", ")}`,
    );
  }
  const { remoteSerial, remoteSsid } = parseRemote(request.to);
  const count = request.links.length;
  if (count < 1 || count > MAX_LINKS_PER_PATH) {
    throw new GsnapError(
      "LINK_ADDRESS_INVALID",
      `Cannot establish a path with ${count} links: a path has 1 to ${MAX_LINKS_PER_PATH}`,
    );
  }
  const links = request.links.map((link) => link.trim());
  for (const link of links) parseLinkAddress(link);
  const repeated = links.find((link, index) => links.indexOf(link) !== index);
  if (repeated !== undefined) {
    throw new GsnapError(
      "LINK_ADDRESS_INVALID",
      `Cannot establish a path through link "${repeated}" twice: each link is a different address`,
    );
  }
  return { ssid, remoteSerial, remoteSsid, links };
}
