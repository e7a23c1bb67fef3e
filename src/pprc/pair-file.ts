// Keeps the pairs of a storage system, primary and secondary, in DATA_DIR/pairs.json, so they
// outlive a restart; written whole or not at all (json-file.ts). A primary's out-of-sync bitmap
// lives beside it, in pairs/VOLSER.oos (oos-file.ts).
//
// Format: { "format": 1, "pairs": [PairRecord, ...] }

import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";
import type { JobRef } from "../store/volume-record.js";
import { readJsonFile, writeJsonFile } from "./json-file.js";
import type { PairMode, PairRole, PairState, SuspendReason } from "./pair-service.js";

export const PAIR_FILE_NAME = "pairs.json";
const PAIR_FILE_FORMAT = 1;

/** What survives a restart of one pair, on either side. */
export interface PairRecord {
  readonly volser: string;
  readonly role: PairRole;
  /** SERIAL.SSID.VOLSER of each side. */
  readonly primary: string;
  readonly secondary: string;
  readonly mode: PairMode;
  readonly critical: boolean;
  readonly state: Exclude<PairState, "simplex">;
  readonly reason?: SuspendReason;
  readonly since: string;
  readonly tracksTotal: number;
  /**
   * The id of the GSC job whose copy the pair is, on the primary's system. On the primary the
   * job, not auto-resume, drives the pair; the secondary knows it when its volume is the job's S'.
   */
  readonly job?: string;
}

/**
 * `{ job }` for the pair of a GSC job, naming the job as the system that runs it (the primary's)
 * does; `{}` for any other pair, so that its info has no `job` field.
 */
export function pairJob(record: PairRecord): { job?: JobRef } {
  if (record.job === undefined) return {};
  const serial = record.primary.slice(0, record.primary.indexOf("."));
  return { job: { id: record.job, serial } };
}

const ROLES: readonly unknown[] = ["primary", "secondary"];
const MODES: readonly unknown[] = ["sync", "copy"];
const STATES: readonly unknown[] = ["pending", "duplex", "suspended"];

export async function readPairFile(dataDir: string): Promise<PairRecord[]> {
  const file = path.join(dataDir, PAIR_FILE_NAME);
  const parsed = (await readJsonFile(file)) as { format?: unknown; pairs?: unknown } | undefined;
  if (parsed === undefined) return [];
  if (
    parsed?.format !== PAIR_FILE_FORMAT ||
    !Array.isArray(parsed.pairs) ||
    !parsed.pairs.every(isPairRecord)
  ) {
    throw new GsnapError(
      "STORE_FORMAT",
      `Cannot read "${file}": it is not a gsnap pair list of format ${PAIR_FILE_FORMAT}`,
    );
  }
  return parsed.pairs as PairRecord[];
}

export function writePairFile(dataDir: string, pairs: readonly PairRecord[]): Promise<void> {
  return writeJsonFile(path.join(dataDir, PAIR_FILE_NAME), { format: PAIR_FILE_FORMAT, pairs });
}

function isPairRecord(value: unknown): value is PairRecord {
  const record = value as Partial<Record<keyof PairRecord, unknown>> | null;
  return (
    typeof record?.volser === "string" &&
    ROLES.includes(record.role) &&
    typeof record.primary === "string" &&
    typeof record.secondary === "string" &&
    MODES.includes(record.mode) &&
    typeof record.critical === "boolean" &&
    STATES.includes(record.state) &&
    typeof record.since === "string" &&
    typeof record.tracksTotal === "number" &&
    (record.job === undefined || typeof record.job === "string")
  );
}
