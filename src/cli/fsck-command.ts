// `gsnap fsck DATA_DIR`: checks a store that no server has open (every checksum, every reference
// count). Exit 0 when it is consistent, CHECK_FAILED's code when not.

import { CHUNKS_SETTING_KEYS, type ChunksSettings } from "../daemon/chunks-config.js";
import { GsnapError } from "../errors/gsnap-error.js";
import type { CheckReport } from "../store/checker.js";
import { formatBytes, printFields, printJson } from "./output.js";

/** Checks a stopped system's store, with its chunks where the settings say (default local). */
export async function checkDataDir(
  dataDir: string,
  settings: ChunksSettings = {},
): Promise<CheckReport> {
  // Loaded here, not at the top: commands that only call the API start faster without LMDB.
  const { Store } = await import("../store/store.js");
  const { resolveChunks } = await import("../daemon/chunks-config.js");
  const { openChunkBackend } = await import("../daemon/chunk-backend.js");
  const { default: pino } = await import("pino");
  const backend = openChunkBackend(resolveChunks(settings), {
    dataDir,
    logger: pino({ level: "warn" }, pino.destination(2)),
  });
  try {
    const store = await Store.open(dataDir, {
      ...backend.storeOptions,
      collectorIntervalMs: false,
    });
    try {
      return await store.check();
    } finally {
      await store.close();
    }
  } finally {
    backend.close();
  }
}

/** The chunk settings among a command's options (commander names them like the config keys). */
export function chunksSettingsOf(options: ChunksSettings): ChunksSettings {
  const settings: ChunksSettings = {};
  for (const key of CHUNKS_SETTING_KEYS) {
    if (options[key] !== undefined) settings[key] = options[key] as string;
  }
  return settings;
}

export function printCheckReport(report: CheckReport, json: boolean): void {
  if (json) {
    printJson(report);
  } else {
    printFields([
      ["result", report.ok ? "consistent" : `${report.problems.length} problem(s)`],
      ["volumes", report.volumes],
      ["mapping nodes", report.nodes],
      ["orphan nodes", report.orphans],
      ["chunks", report.chunks],
      ["segments", report.segments],
      ["bytes verified", formatBytes(report.checkedBytes)],
    ]);
    for (const problem of report.problems) process.stdout.write(`problem: ${problem}\n`);
  }
  if (!report.ok) {
    throw new GsnapError(
      "CHECK_FAILED",
      `Check of the store found ${report.problems.length} problem(s)`,
    );
  }
}
