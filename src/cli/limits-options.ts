// The flags of `gsnap serve` that limit connections: caps per port and per client address,
// handshake and idle timeouts, and the file descriptors kept for the store. Defaults and ranges
// live in daemon/limits-config.ts; the help names the defaults from there.

import type { Command } from "commander";
import { DEFAULT_LIMITS } from "../daemon/limits-config.js";

const PORTS = [
  { port: "nbd", what: "NBD" },
  { port: "api", what: "API" },
  { port: "link", what: "peer link" },
] as const;

export function addLimitsOptions(command: Command): Command {
  for (const { port, what } of PORTS) {
    const limits = DEFAULT_LIMITS[port];
    command
      .option(
        `--${port}-max-connections <n>`,
        `${what} connections held at once; more are refused (default ${limits.maxConnections})`,
      )
      .option(
        `--${port}-max-per-address <n>`,
        `${what} connections from one client address (default ${limits.maxPerAddress})`,
      )
      .option(
        `--${port}-handshake-timeout <ms>`,
        `a new ${what} connection must finish its handshake (an HTTP request) within this (default ${limits.handshakeTimeoutMs})`,
      )
      .option(
        `--${port}-idle-timeout <ms>`,
        `a silent ${what} connection is closed after this, 0 for never (default ${limits.idleTimeoutMs})`,
      );
  }
  return command.option(
    "--fd-reserve <n>",
    `file descriptors kept for the store's files: connections of all ports together stop this short of the process's limit (default ${DEFAULT_LIMITS.fdReserve})`,
  );
}
