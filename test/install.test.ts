// The README's line that puts `gsnap` on PATH, run as written into a throw-away npm prefix (so the
// machine's global packages are left alone): the command it makes runs this checkout's CLI.

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CLI_PATH } from "../src/testing/serve-process.js";

const run = promisify(execFile);

describe.skipIf(!fs.existsSync(CLI_PATH))("the gsnap command on PATH", () => {
  it("is made by the README's npm link line and runs this checkout's CLI", async () => {
    const readme = fs.readFileSync("README.md", "utf8");
    const line = /Then `(npm link[^`]*)` puts the `gsnap` command on PATH/.exec(readme);
    expect(line).not.toBeNull();
    const [npm, ...args] = (line as RegExpExecArray)[1].split(" ");
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-prefix-"));
    try {
      const env = { ...process.env, NPM_CONFIG_PREFIX: prefix };
      const linked = await run(npm, args, { env, timeout: 120_000 });
      expect(linked.stderr).not.toMatch(/npm warn/i);
      const bin = path.join(prefix, "bin", "gsnap");
      expect(fs.realpathSync(bin)).toBe(fs.realpathSync(CLI_PATH));
      const paths = { ...process.env, PATH: `${path.dirname(bin)}:${process.env.PATH}` };
      const help = await run("gsnap", ["volume", "--help"], { env: paths });
      expect(help.stdout).toMatch(/Create, list, show and delete volumes/);
    } finally {
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  }, 180_000);
});
