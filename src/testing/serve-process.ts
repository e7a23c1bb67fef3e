// Runs a real `gsnap serve` process for tests: on a temp data dir, with the API and NBD on free
// loopback ports (port 0), the addresses (and the peer link's, when it has one) read from what it
// prints at start.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

export const CLI_PATH = path.resolve("dist/src/cli/main.js");
/** A server that has not printed its addresses within 20 s on this 2-core machine is stuck. */
const START_TIMEOUT_MS = 20_000;
const runFile = promisify(execFile);

export interface ServeProcess {
  readonly dataDir: string;
  readonly apiUrl: string;
  readonly nbdHost: string;
  readonly nbdPort: number;
  /** The peer link address HOST:PORT; undefined when it runs without a link secret. */
  readonly linkAddress: string | undefined;
  readonly token: string;
  readonly child: ChildProcess;
  nbdUri(volser: string): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends SIGKILL (a crash) and resolves once the process is gone. */
  kill(): Promise<void>;
  /** Runs the gsnap CLI against this server. */
  cli(...args: string[]): Promise<CliResult>;
  output(): string;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runGsnap(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [CLI_PATH, ...args], {
      env: { ...process.env, ...env },
      timeout: 120_000,
      cwd,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

export async function startServe(
  options: { dataDir?: string; args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<ServeProcess> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-serve-"));
  const token = "test-token-0123456789";
  // GSNAP_SERVE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers of a bench.
  const nodeArgs = process.env.GSNAP_SERVE_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      CLI_PATH,
      "serve",
      "--data",
      dataDir,
      "--api",
      "127.0.0.1:0",
      "--nbd",
      "127.0.0.1:0",
      "--token",
      token,
      "--log-level",
      "warn",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const started = Date.now();
  let api: RegExpExecArray | null = null;
  let nbd: RegExpExecArray | null = null;
  while (api === null || nbd === null) {
    if (child.exitCode !== null)
      throw new Error(`gsnap serve exited with ${child.exitCode}:\n${output}`);
    if (Date.now() - started > START_TIMEOUT_MS) {
      child.kill("SIGKILL");
      throw new Error(`gsnap serve did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    api = /API {2}(http:\/\/\S+)/.exec(output);
    nbd = /NBD {2}nbd:\/\/([^:\s]+):(\d+)\//.exec(output);
  }
  const apiUrl = api[1];
  const link = /LINK {2}(\S+:\d+)/.exec(output);
  const server: ServeProcess = {
    dataDir,
    apiUrl,
    nbdHost: nbd[1],
    nbdPort: Number(nbd[2]),
    linkAddress: link?.[1],
    token,
    child,
    nbdUri: (volser) => `nbd://${nbd[1]}:${nbd[2]}/${volser}`,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    cli: (...args) => runGsnap(args, { GSNAP_API: apiUrl, GSNAP_TOKEN: token }),
    output: () => output,
  };
  return server;
}
