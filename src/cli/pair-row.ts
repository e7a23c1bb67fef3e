// How `gsnap pair` shows a pair to people: its table columns, its state in words, with the
// reason when it is suspended ("suspended (link failure)"), and the GSC job whose copy it is.

import type { PairInfo } from "../pprc/pair-service.js";
import { jobRefText } from "./job-ref-text.js";
import { formatBytes } from "./output.js";

export const PAIR_COLUMNS: [string, string][] = [
  ["VOLSER", "volser"],
  ["ROLE", "role"],
  ["PRIMARY", "primary"],
  ["SECONDARY", "secondary"],
  ["MODE", "mode"],
  ["STATE", "state"],
  ["OUT OF SYNC", "tracksOutOfSync"],
  ["SENT", "sent"],
  ["JOB", "job"],
];

/** The state in words: `duplex`, `suspended (link failure)`. */
export function stateText(pair: Pick<PairInfo, "state" | "reason">): string {
  return pair.reason === undefined ? pair.state : `${pair.state} (${pair.reason})`;
}

/** One table row per pair; a critical sync pair's mode reads `sync, critical`. */
export function pairRow(pair: PairInfo): Record<string, unknown> {
  return {
    volser: pair.volser,
    role: pair.role,
    primary: pair.primary,
    secondary: pair.secondary,
    mode: pair.critical ? `${pair.mode}, critical` : pair.mode,
    state: stateText(pair),
    tracksOutOfSync: pair.tracksOutOfSync,
    sent: formatBytes(pair.bytesSent),
    job: jobRefText(pair.job),
  };
}
