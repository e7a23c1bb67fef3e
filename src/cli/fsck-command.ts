// `gsnap fsck DATA_DIR`: checks a store that no server has open (every checksum, every reference
// count). Exit 0 when it is consistent, CHECK_FAILED's code when not.

import { GsnapError } from "../errors/gsnap-error.js";
import type { CheckReport } from "../store/checker.js";
import { formatBytes, printFields, printJson } from "./output.js";

export async function checkDataDir(dataDir: string): Promise<CheckReport> {
  // Loaded here, not at the top: commands that only call the API start faster without LMDB.
  const { Store } = await import("../store/store.js");
  const store = await Store.open(dataDir, { collectorIntervalMs: false });
  try {
    return await store.check();
  } finally {
    await store.close();
  }
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
