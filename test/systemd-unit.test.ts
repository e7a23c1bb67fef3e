// deploy/gsnap.service as systemd reads it: `systemd-analyze verify` finds nothing to say (an
// unknown key or a missing program would be said), its hardening keeps systemd's exposure score
// at 2.0 or below, and every flag its ExecStart passes is one `gsnap serve` takes.

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CLI_PATH } from "../src/testing/serve-process.js";

const run = promisify(execFile);
const UNIT = path.join(import.meta.dirname, "..", "deploy", "gsnap.service");
const INSTALLED_AT = "/usr/local/bin/gsnap";

function haveSystemdAnalyze(): boolean {
  const found = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].some((p) => fs.existsSync(p));
  if (!found) {
    console.warn(
      "\n!!!!!!!! systemd unit tests SKIPPED: systemd-analyze not installed (Debian: systemd; .ci/run installs it) !!!!!!!!\n",
    );
  }
  return found;
}

/** The unit with its program at `program` (gsnap is not installed here), in a temp dir. */
function unitRunning(program: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-unit-"));
  const file = path.join(dir, "gsnap.service");
  fs.writeFileSync(file, fs.readFileSync(UNIT, "utf8").replace(INSTALLED_AT, program));
  return file;
}

/** Exit code and output of systemd-analyze. */
async function analyze(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run("systemd-analyze", args);
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: `${failed.stdout}${failed.stderr}` };
  }
}

const skip = !fs.existsSync(CLI_PATH) || !haveSystemdAnalyze();

describe.skipIf(skip)("deploy/gsnap.service", () => {
  const program = `${process.execPath} ${CLI_PATH}`;

  it("verifies with nothing said, and a unit whose program is missing does not", async () => {
    expect(await analyze("verify", unitRunning(program))).toEqual({ code: 0, output: "" });
    const missing = await analyze("verify", unitRunning("/nonexistent/gsnap"));
    expect(missing.code).not.toBe(0);
    expect(missing.output).toMatch(/not executable/);
  });

  it("keeps systemd's exposure score at 2.0 or below", async () => {
    const file = unitRunning(program);
    const scored = await analyze("security", "--offline=true", "--threshold=20", file);
    expect(scored.output).toMatch(/Overall exposure level for gsnap.service: [0-2]\.\d/);
    expect(scored.code).toBe(0);
  });

  it("passes gsnap serve only flags it takes", async () => {
    const unit = fs.readFileSync(UNIT, "utf8");
    const execStart = unit.split("\n").find((line) => line.startsWith("ExecStart="));
    const flags = execStart?.match(/--[a-z-]+/g) ?? [];
    expect(flags.length).toBeGreaterThan(0);
    const { stdout } = await run(process.execPath, [CLI_PATH, "serve", "--help"]);
    for (const flag of flags) expect(stdout, flag).toMatch(new RegExp(`${flag}\\b`));
  });
});
