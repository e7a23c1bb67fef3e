// The README's "Use" section is a script: its ```sh blocks, in order, run as written with bash
// (`set -euo pipefail`) in an empty directory, with `gsnap` on PATH running this checkout's build.
// They use the default ports (8480, 10809, 8481) and others of their own, so they run in a network
// namespace of their own (`unshare --net`, loopback only), where no other test's servers are; and
// in a PID namespace, so that nothing they start outlives them even when the test is cut short.

import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CLI_PATH, runGsnap } from "../src/testing/serve-process.js";

const run = promisify(execFile);
/** Two systems start, 32 MiB crosses NBD and the link a few times: a minute here, under load. */
const SCRIPT_TIMEOUT_MS = 240_000;
/** What the blocks run besides gsnap and coreutils, and what isolates them. */
const TOOLS = ["bash", "qemu-img", "curl", "unshare", "ip"];

/**
 * The ```sh blocks of the README section headed `## Use`, up to the next heading of any level;
 * lines inside a block that start with `#` are shell comments, not headings.
 */
function useBlocks(readme: string): string[] {
  const blocks: string[] = [];
  let inSection = false;
  let block: string[] | undefined;
  let fenced = false;
  for (const line of readme.split("\n")) {
    if (line.startsWith("```")) {
      if (inSection && !fenced && line.trim() === "```sh") block = [];
      else if (fenced && block !== undefined) {
        blocks.push(block.join("\n"));
        block = undefined;
      }
      fenced = !fenced;
    } else if (fenced) {
      block?.push(line);
    } else if (/^#{1,6} /.test(line)) {
      if (inSection) break;
      inSection = line === "## Use";
    }
  }
  return blocks;
}

function missingTools(): string[] {
  return TOOLS.filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
}

/** unshare's flags: a user namespace too when not root, so that it needs no privilege. */
function isolation(): string[] {
  const asUser = process.getuid?.() === 0 ? [] : ["--map-root-user"];
  return [...asUser, "--net", "--pid", "--fork", "--kill-child"];
}

/** Why the blocks cannot run here, or undefined when they can. */
function cannotRun(): string | undefined {
  if (!fs.existsSync(CLI_PATH)) return `no build at ${CLI_PATH}`;
  const missing = missingTools();
  if (missing.length > 0) return `missing ${missing.join(", ")}`;
  const probe = spawnSync("unshare", [...isolation(), "ip", "link", "set", "lo", "up"]);
  if (probe.status !== 0) return `cannot make a network namespace: ${probe.stderr}`.trim();
  return undefined;
}

const reason = cannotRun();
if (reason !== undefined) {
  process.stderr.write(`\nNOTICE: SKIPPING THE README "USE" SCRIPT TEST: ${reason}\n\n`);
}

describe("the README's Use section", () => {
  const readme = fs.readFileSync("README.md", "utf8");

  it("has its examples in sh blocks: one system, then a second with a path, a GSC and a pair", () => {
    const blocks = useBlocks(readme);
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatch(/^gsnap serve --link-secret-file link-secret /m);
    expect(blocks[0]).toMatch(/^head -c \S+ \/dev\/urandom >disk\.raw/m);
    expect(blocks[1]).toMatch(/^gsnap gsc /m);
    expect(blocks[1]).toMatch(/^gsnap pair establish /m);
    // The section ends at the next heading: the Ceph example (illustrative) is not part of it.
    expect(blocks.join("\n")).not.toContain("s3://");
  });

  it.skipIf(reason !== undefined)(
    "runs as written, in order, against the defaults, and leaves two consistent systems",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-readme-"));
      try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(
          path.join(bin, "gsnap"),
          `#!/bin/sh\nexec "${process.execPath}" "${path.resolve(CLI_PATH)}" "$@"\n`,
          { mode: 0o755 },
        );
        const work = path.join(dir, "work");
        fs.mkdirSync(work);
        const script = path.join(dir, "use.sh");
        fs.writeFileSync(
          script,
          [
            "set -euo pipefail",
            // Stops whatever the blocks left running when one fails; the blocks stop their own.
            "trap 'status=$?; kill $(jobs -p) 2>/dev/null || true; wait; exit $status' EXIT",
            ...useBlocks(readme),
            "",
          ].join("\n"),
        );
        const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
        delete env.GSNAP_API;
        delete env.GSNAP_TOKEN;
        const result = await run(
          "unshare",
          [...isolation(), "sh", "-c", 'ip link set lo up && exec bash "$0"', script],
          { cwd: work, env, timeout: SCRIPT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
        ).catch((error: { code: unknown; stdout: string; stderr: string }) => {
          const logs = ["gsnap.log", "gsnap-b.log"].map((log) => {
            const file = path.join(work, "gsnap-try", log);
            return fs.existsSync(file) ? `--- ${log}\n${fs.readFileSync(file, "utf8")}` : "";
          });
          throw new Error(
            `The Use blocks failed (${String(error.code)}):\n${error.stdout}\n${error.stderr}\n${logs.join("\n")}`,
          );
        });
        const out = result.stdout;
        expect(out).toMatch(/^subsystems: 01A0$/m);
        // Written over NBD, read back over NBD: on VOL002 (a snap), B's VOL900 (a GSC) and VOL902.
        expect(out.match(/^Images are identical\.$/gm)).toHaveLength(3);
        expect(out).toMatch(/^result: +consistent$/m);
        expect(out).toMatch(/^01A0 +0000000002\.01A0 +established/m);
        expect(out).toMatch(/^Job J000001 succeeded \(OK\)$/m);
        expect(out).toMatch(/OK: copied 1500 tracks to 0000000002\.01A0\.VOL900:0\.0-99\.14/);
        expect(out).toMatch(
          /^VOL002 +primary +\w+\.01A0\.VOL002 +0000000002\.01A0\.VOL902 +copy +duplex +0 /m,
        );
        expect(out).toMatch(/^Terminated the pair of VOL002$/m);
        // Both stopped cleanly at the end: each logged its stop, and each data dir checks out.
        for (const [log, data] of [
          ["gsnap.log", "gsnap-data"],
          ["gsnap-b.log", "gsnap-b"],
        ]) {
          const written = fs.readFileSync(path.join(work, "gsnap-try", log), "utf8");
          expect(written).toContain('"msg":"stopped"');
          const checked = await runGsnap(["fsck", path.join(work, "gsnap-try", data)]);
          expect(checked.code, checked.stderr).toBe(0);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    SCRIPT_TIMEOUT_MS + 30_000,
  );
});
