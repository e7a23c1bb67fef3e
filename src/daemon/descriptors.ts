// Reads how many file descriptors the process may open and has open (Linux's /proc), and turns
// them into the process-wide connection cap (limits/descriptor-budget.ts). Elsewhere, where /proc
// is missing, there is no such cap and the log says so.

import fs from "node:fs";
import type { Logger } from "pino";
import { GsnapError } from "../errors/gsnap-error.js";
import { connectionBudget, openFilesSoftLimit } from "../limits/descriptor-budget.js";

/** Connections every listener together may hold, keeping `reserve` descriptors for the store. */
export function descriptorBudget(reserve: number, logger: Logger): number {
  let softLimit: number | undefined;
  let openNow: number;
  try {
    softLimit = openFilesSoftLimit(fs.readFileSync("/proc/self/limits", "utf8"));
    openNow = fs.readdirSync("/proc/self/fd").length;
  } catch (error) {
    logger.warn(
      { err: (error as Error).message },
      "cannot read this process's file descriptor limit: connections are capped per port only",
    );
    return Number.POSITIVE_INFINITY;
  }
  if (softLimit === undefined) return Number.POSITIVE_INFINITY;
  const budget = connectionBudget({ softLimit, openNow, reserve });
  if (budget === 0) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot serve: the process may open ${softLimit} files, has ${openNow} open and --fd-reserve keeps ${reserve}, which leaves none for connections; raise the limit (ulimit -n, LimitNOFILE=) or lower --fd-reserve`,
    );
  }
  logger.info(
    { softLimit, openNow, reserve, connections: budget },
    "connections of all ports together are capped by file descriptors",
  );
  return budget;
}
