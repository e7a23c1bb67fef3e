// Shell completion end to end: the script `gsnap completion bash` prints is sourced in a real bash
// and its function is called as bash calls it on Tab (COMP_WORDS, COMP_CWORD, COMP_LINE and
// COMP_POINT set, COMPREPLY read back), with the real CLI behind it and two real `gsnap serve`
// processes for the VOLSERs, paired volumes and job ids it offers. Then with no server, a server
// that never answers, and no token: commands still come, quickly, and nothing reaches stderr.
// The zsh script runs in a real zsh when one is installed, and is only parsed (by bash) otherwise.

import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import {
  establishPair,
  establishPath,
  cliOk as ok,
  servedSystems,
} from "../src/testing/replication-process.js";
import { CLI_PATH, runGsnap, type ServeProcess } from "../src/testing/serve-process.js";

const runFile = promisify(execFile);

/** Node's start is most of a Tab's cost; on this shared 2-core machine allow it some seconds. */
const QUICK_MS = 3_000;
/** The lookup gives up after 1 s (LOOKUP_TIMEOUT_MS); a silent server costs that and a start. */
const SILENT_SERVER_MS = 1_000 + QUICK_MS;

function installed(shell: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${shell}`], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

const bash = installed("bash");
const zsh = installed("zsh");

// `gsnap` on PATH, as the user has it: the scripts call back the command they complete.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-completion-"));
const gsnapPath = `${path.join(dir, "bin")}:${process.env.PATH}`;
beforeAll(() => {
  fs.mkdirSync(path.join(dir, "bin"));
  const gsnap = path.join(dir, "bin", "gsnap");
  fs.writeFileSync(gsnap, `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`);
  fs.chmodSync(gsnap, 0o755);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Sources the script ($1), finds the function `complete -F` registered for gsnap and calls it as
// bash does on Tab with the words after "gsnap" ($2...), the last being the word under the cursor.
const BASH_TAB = `
source "$1"; shift
spec=$(complete -p gsnap) || exit 3
fn=\${spec##*-F }; fn=\${fn%% *}
COMP_WORDS=(gsnap "$@")
COMP_CWORD=$#
COMP_LINE="gsnap $*"
COMP_POINT=\${#COMP_LINE}
"$fn" gsnap "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
if (( \${#COMPREPLY[@]} )); then printf '%s\\n' "\${COMPREPLY[@]}"; fi
`;

interface Tab {
  readonly replies: string[];
  readonly stderr: string;
  readonly ms: number;
}

describe.skipIf(!fs.existsSync(CLI_PATH) || bash === undefined)("gsnap completion in bash", () => {
  const systems = servedSystems();
  const bashScript = path.join(dir, "gsnap.bash");
  let a: ServeProcess;
  let jobId: string;

  /** Presses Tab after `words` in a bash with only `env` (and gsnap on PATH) set. */
  async function tab(words: string[], env: NodeJS.ProcessEnv = {}): Promise<Tab> {
    const started = performance.now();
    const { stdout, stderr } = await runFile(
      bash as string,
      ["--norc", "--noprofile", "-c", BASH_TAB, "bash", bashScript, ...words],
      {
        cwd: dir,
        env: { PATH: gsnapPath, HOME: dir, ...env },
        timeout: 30_000,
      },
    );
    const replies = stdout.split("\n").filter((line) => line !== "");
    return { replies, stderr, ms: performance.now() - started };
  }

  const onA = () => ({ GSNAP_API: a.apiUrl, GSNAP_TOKEN: a.token });

  beforeAll(async () => {
    fs.writeFileSync(bashScript, await ok0("completion", "bash"));

    // A with volumes (one with a $ in its VOLSER, which bash would expand), a pair from CMP002
    // to B and a finished GSC job.
    const b = await systems.serve("0000000002", "01B0");
    a = await systems.serve("0000000001", "01A0");
    for (const volser of ["CMP001", "CMP002", "CMP003", "CMP$04"])
      await ok(a, "volume", "create", volser, "--cylinders", "1");
    for (const volser of ["VOL900", "VOL901"])
      await ok(b, "volume", "create", volser, "--cylinders", "1");
    await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link: `${b.linkAddress}` });
    await establishPair(a, { volser: "CMP002", secondary: "0000000002.01B0.VOL901", mode: "copy" });
    const job = await ok(
      a,
      "gsc",
      "CMP001:0.0-0.14, *, 0000000002.01B0.VOL900",
      "--wait",
      "--json",
    );
    jobId = JSON.parse(job).id;
  }, 120_000);

  afterAll(() => systems.cleanup());

  it("registers a completion function for gsnap", async () => {
    const { stdout } = await runFile(bash as string, [
      "--norc",
      "-c",
      'source "$1"; complete -p gsnap',
      "bash",
      bashScript,
    ]);
    expect(stdout).toMatch(/^complete -o default -F \S+ gsnap$/m);
  });

  it("completes a top-level command from its prefix", async () => {
    expect((await tab(["vo"])).replies).toEqual(["volume"]);
    const all = (await tab([""])).replies;
    expect(all).toEqual(expect.arrayContaining(["serve", "volume", "pair", "job", "completion"]));
    expect(all).not.toContain("__complete");
  });

  it("completes a nested subcommand", async () => {
    expect((await tab(["pair", "est"])).replies).toEqual(["establish"]);
    expect((await tab(["job", ""])).replies).toEqual(["list", "show", "wait", "cancel", "help"]);
  });

  it("completes a command's flags", async () => {
    expect((await tab(["pair", "establish", "--c"])).replies).toEqual(["--critical"]);
    expect((await tab(["volume", "list", "--"])).replies).toEqual([
      "--json",
      "--help",
      "--api",
      "--token",
    ]);
  });

  it("completes VOLSERs from the running server, quoted for the shell", async () => {
    const shown = await tab(["volume", "show", "CMP"], onA());
    expect(shown.replies.sort()).toEqual(["CMP001", "CMP002", "CMP003", "CMP\\$04"]);
    expect(shown.stderr).toBe("");
    expect((await tab(["snap", "CMP001:0.0-0.14", "CMP00"], onA())).replies.sort()).toEqual([
      "CMP001",
      "CMP002",
      "CMP003",
    ]);
  });

  it("asks the server named by --api on the line, split at : as bash splits it", async () => {
    const apiWords = a.apiUrl.split(/(:)/); // http : //127.0.0.1 : PORT
    const tabbed = await tab(["--api", ...apiWords, "volume", "delete", "CMP00"], {
      GSNAP_TOKEN: a.token,
    });
    expect(tabbed.replies.sort()).toEqual(["CMP001", "CMP002", "CMP003"]);
  });

  it("completes the volumes in pairs and the job ids from the server", async () => {
    expect((await tab(["pair", "suspend", ""], onA())).replies).toEqual(["CMP002"]);
    expect((await tab(["job", "show", "J"], onA())).replies).toEqual([jobId]);
    expect((await tab(["job", "show", "X"], onA())).replies).toEqual([]);
  });

  it("completes commands quickly and quietly with no server, and offers no VOLSERs", async () => {
    const closed = await closedPort();
    const env = { GSNAP_API: `http://127.0.0.1:${closed}`, GSNAP_TOKEN: "t" };
    const command = await tab(["vo"], env);
    expect(command).toMatchObject({ replies: ["volume"], stderr: "" });
    expect(command.ms).toBeLessThan(QUICK_MS);
    const volser = await tab(["volume", "show", ""], env);
    expect(volser).toMatchObject({ replies: [], stderr: "" });
    expect(volser.ms).toBeLessThan(QUICK_MS);
    // __complete itself is silent, not only because the script discards its stderr.
    const direct = await runGsnap(["__complete", "--", "volume", "show", ""], env, dir);
    expect(direct).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("gives up on a server that never answers after its short timeout", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const tabbed = await tab(["job", "wait", ""], { GSNAP_API: `http://127.0.0.1:${port}` });
      expect(tabbed).toMatchObject({ replies: [], stderr: "" });
      expect(tabbed.ms).toBeLessThan(SILENT_SERVER_MS);
    } finally {
      silent.close();
    }
  });

  it("offers no VOLSERs, silently, when the token is missing or wrong", async () => {
    const none = await tab(["volume", "show", ""], { GSNAP_API: a.apiUrl });
    expect(none).toMatchObject({ replies: [], stderr: "" });
    const wrong = await tab(["volume", "show", ""], { GSNAP_API: a.apiUrl, GSNAP_TOKEN: "no" });
    expect(wrong).toMatchObject({ replies: [], stderr: "" });
  });
});

describe.skipIf(!fs.existsSync(CLI_PATH))("gsnap completion SHELL", () => {
  it("refuses a shell it has no script for with REQUEST_INVALID", async () => {
    const result = await runGsnap(["completion", "fish"]);
    expect(result.code).toBe(ERROR_CODES.REQUEST_INVALID.exitCode);
    expect(result.stderr).toBe(
      'gsnap: REQUEST_INVALID: Cannot print a completion script for "fish": gsnap completes bash and zsh\n',
    );
    expect(result.stdout).toBe("");
  });

  it("says in its help how to load the script now and for good", async () => {
    const help = (await runGsnap(["completion", "--help"])).stdout;
    expect(help).toContain("source <(gsnap completion bash)");
    expect(help).toContain(
      "gsnap completion bash > ~/.local/share/bash-completion/completions/gsnap",
    );
    expect(help).toContain("source <(gsnap completion zsh)");
  });

  it.skipIf(bash === undefined)(
    "prints a zsh script that parses (bash -n; no zsh needed)",
    async () => {
      const script = await ok0("completion", "zsh");
      expect(script.split("\n")[0]).toBe("#compdef gsnap");
      const file = path.join(os.tmpdir(), `gsnap-completion-${process.pid}.zsh`);
      fs.writeFileSync(file, script);
      try {
        await runFile(bash as string, ["-n", file]);
      } finally {
        fs.rmSync(file);
      }
    },
  );

  // zsh's compadd and _files work only inside a completion widget: here stubs print what they
  // are given, and compdef (from compinit) prints how it was called.
  it.skipIf(zsh === undefined)("completes in a real zsh, falling back to file names", async () => {
    const script = await ok0("completion", "zsh");
    const driver = `
      compdef() { print -r -- "compdef $*"; }
      eval "$1"; shift
      compadd() { [[ $1 == -a ]] && print -rl -- "\${(@P)2}"; }
      _files() { print -r -- "(files)"; }
      words=(gsnap "$@"); CURRENT=$#words
      _gsnap
    `;
    const env = { PATH: gsnapPath, HOME: dir, GSNAP_API: `http://127.0.0.1:${await closedPort()}` };
    const press = async (...words: string[]) => {
      const ran = await runFile(zsh as string, ["-f", "-c", driver, "zsh", script, ...words], {
        cwd: dir,
        env,
      });
      expect(ran.stderr).toBe("");
      return ran.stdout.split("\n").filter((line) => line !== "");
    };
    expect(await press("pair", "est")).toEqual(["compdef _gsnap gsnap", "establish"]);
    expect(await press("volume", "list", "--j")).toEqual(["compdef _gsnap gsnap", "--json"]);
    expect(await press("volume", "show", "")).toEqual(["compdef _gsnap gsnap", "(files)"]);
  });
});

/** Runs the CLI, which must succeed, and answers its stdout. */
async function ok0(...args: string[]): Promise<string> {
  const result = await runGsnap(args);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

/** A loopback port nothing listens on (one just closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
