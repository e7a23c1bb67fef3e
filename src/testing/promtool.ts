// Runs promtool (Debian package `prometheus`; .ci/run installs it) for the tests of the rules in
// deploy/prometheus/: `check rules` and `test rules`.

import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);
export const PROMTOOL = "/usr/bin/promtool";
/** promtool checks a rules file and its tests in well under a second; a minute means stuck. */
const PROMTOOL_TIMEOUT_MS = 60_000;

/** True when promtool is installed; otherwise says loudly that the rules tests are skipped. */
export function havePromtool(): boolean {
  const found = fs.existsSync(PROMTOOL);
  if (!found) {
    console.warn(
      "\n!!!!!!!! Prometheus rules tests SKIPPED: promtool not installed (Debian: prometheus; .ci/run installs it) !!!!!!!!\n",
    );
  }
  return found;
}

/** promtool's exit code and what it printed (stdout then stderr). */
export async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { timeout: PROMTOOL_TIMEOUT_MS });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: `${failed.stdout}${failed.stderr}` };
  }
}
