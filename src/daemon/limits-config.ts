// The connection limits of `gsnap serve` (caps per port and per client address, handshake and
// idle timeouts, descriptors kept for the store): their settings, defaults and validation, in the
// style of config.ts, which merges them with the rest. Pure.

import { GsnapError } from "../errors/gsnap-error.js";
import type { ListenerName } from "../limits/connection-limiter.js";
import { DEFAULT_FD_RESERVE } from "../limits/descriptor-budget.js";

export interface PortLimits {
  readonly maxConnections: number;
  readonly maxPerAddress: number;
  readonly handshakeTimeoutMs: number;
  /** 0: never. */
  readonly idleTimeoutMs: number;
}

export interface LimitsConfig {
  readonly nbd: PortLimits;
  readonly api: PortLimits;
  readonly link: PortLimits;
  /** File descriptors kept free for the store whatever the listeners hold. */
  readonly fdReserve: number;
}

type Setting = string | number;

/** The keys a config file and the flags share (`--nbd-max-connections` is nbdMaxConnections). */
export interface LimitsSettings {
  nbdMaxConnections?: Setting;
  nbdMaxPerAddress?: Setting;
  nbdHandshakeTimeout?: Setting;
  nbdIdleTimeout?: Setting;
  apiMaxConnections?: Setting;
  apiMaxPerAddress?: Setting;
  apiHandshakeTimeout?: Setting;
  apiIdleTimeout?: Setting;
  linkMaxConnections?: Setting;
  linkMaxPerAddress?: Setting;
  linkHandshakeTimeout?: Setting;
  linkIdleTimeout?: Setting;
  fdReserve?: Setting;
}

/**
 * The defaults, with their reasons. NBD: 64 connections of up to 64 MiB in flight each (4 GiB at
 * most), 16 from one host (one qemu's multi-conn); a handshake takes a real client milliseconds;
 * an export silent for 10 minutes is closed. API: the CLI and dashboards open few connections;
 * 5 minutes of silence outlasts any request and an event stream's 15 s heartbeats. Link: 8 links
 * per path, so 64 is eight paths; a live peer PINGs every 5 s, so a minute of silence is death.
 */
export const DEFAULT_LIMITS: LimitsConfig = {
  nbd: {
    maxConnections: 64,
    maxPerAddress: 16,
    handshakeTimeoutMs: 30_000,
    idleTimeoutMs: 600_000,
  },
  api: {
    maxConnections: 256,
    maxPerAddress: 64,
    handshakeTimeoutMs: 30_000,
    idleTimeoutMs: 300_000,
  },
  link: {
    maxConnections: 64,
    maxPerAddress: 16,
    handshakeTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
  },
  fdReserve: DEFAULT_FD_RESERVE,
};

export const LIMITS_SETTING_KEYS: readonly (keyof LimitsSettings)[] = [
  "nbdMaxConnections",
  "nbdMaxPerAddress",
  "nbdHandshakeTimeout",
  "nbdIdleTimeout",
  "apiMaxConnections",
  "apiMaxPerAddress",
  "apiHandshakeTimeout",
  "apiIdleTimeout",
  "linkMaxConnections",
  "linkMaxPerAddress",
  "linkHandshakeTimeout",
  "linkIdleTimeout",
  "fdReserve",
];

/** More connections on one port than this would each still need a descriptor and memory. */
const MAX_CONNECTIONS = 65_536;
/** A handshake longer than 10 minutes is no handshake; 100 ms is the least a timer keeps to. */
const HANDSHAKE_MS = { min: 100, max: 600_000 };
/** A day of silence is as good as never, which 0 says. */
const IDLE_MS = { min: 100, max: 86_400_000 };

export function resolveLimits(settings: LimitsSettings): LimitsConfig {
  return {
    nbd: portLimits("nbd", settings),
    api: portLimits("api", settings),
    link: portLimits("link", settings),
    fdReserve: wholeNumber(settings.fdReserve ?? DEFAULT_LIMITS.fdReserve, {
      flag: "--fd-reserve",
      min: 0,
      max: MAX_CONNECTIONS,
      unit: "descriptors",
    }),
  };
}

function portLimits(port: ListenerName, settings: LimitsSettings): PortLimits {
  const value = (name: string) => settings[`${port}${name}` as keyof LimitsSettings];
  const defaults = DEFAULT_LIMITS[port];
  const maxConnections = wholeNumber(value("MaxConnections") ?? defaults.maxConnections, {
    flag: `--${port}-max-connections`,
    min: 1,
    max: MAX_CONNECTIONS,
    unit: "connections",
  });
  const maxPerAddress = wholeNumber(
    value("MaxPerAddress") ?? Math.min(defaults.maxPerAddress, maxConnections),
    { flag: `--${port}-max-per-address`, min: 1, max: maxConnections, unit: "connections" },
  );
  const handshakeTimeoutMs = wholeNumber(value("HandshakeTimeout") ?? defaults.handshakeTimeoutMs, {
    flag: `--${port}-handshake-timeout`,
    ...HANDSHAKE_MS,
    unit: "ms",
  });
  const idle = value("IdleTimeout") ?? defaults.idleTimeoutMs;
  const idleFlag = { flag: `--${port}-idle-timeout`, ...IDLE_MS, unit: "ms" };
  const idleTimeoutMs = isZero(idle) ? 0 : wholeNumber(idle, idleFlag, " (0: never)");
  return { maxConnections, maxPerAddress, handshakeTimeoutMs, idleTimeoutMs };
}

function isZero(value: unknown): boolean {
  return value === 0 || value === "0";
}

/** A whole number within limits; the message names the flag and the range. */
function wholeNumber(
  value: unknown,
  limits: { flag: string; min: number; max: number; unit: string },
  also = "",
): number {
  // Only a number or the text of one: Number(true) or Number([5]) would pass for one.
  const number =
    typeof value === "number" || typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isInteger(number) || number < limits.min || number > limits.max) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use ${limits.flag} "${String(value)}": give whole ${limits.unit} from ${limits.min} to ${limits.max}${also}`,
    );
  }
  return number;
}
