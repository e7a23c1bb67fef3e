// Drives the real NBD clients (qemu-img, qemu-io, nbdcopy, nbdinfo, nbdsh) from tests, against
// any NBD server: one started inside a test or a real `gsnap serve`. Every run is asynchronous
// (the server may live in the same process and must keep serving) and has a timeout.
//
// nbdsh is a shell script that runs `python3 -m nbd`; on machines where the first python3 on the
// PATH is not the system one (pyenv, venvs) it cannot import the libnbd module, so nbdsh runs
// with the directory of a python3 that can put first on its PATH.

import { execFile, spawnSync } from "node:child_process";
import path from "node:path";

/** One client run may take this long: the interop tests move a few tens of MiB at most. */
export const CLIENT_TIMEOUT_MS = 60_000;

/** Client output kept: a map or a listing of a test volume is a few KiB. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export const NBD_CLIENTS = ["qemu-img", "qemu-io", "nbdcopy", "nbdinfo", "nbdsh"] as const;

export interface ClientOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** A client that exited non-zero (or timed out), with what it printed. */
export class ClientFailure extends Error {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | string | null;

  constructor(command: string, detail: { stdout: string; stderr: string; cause: unknown }) {
    const cause = detail.cause as { code?: number | string; killed?: boolean };
    super(
      `Cannot run ${command}: it exited with ${cause.killed ? "a timeout" : String(cause.code)}: ` +
        detail.stderr.trim(),
      { cause: detail.cause },
    );
    this.name = "ClientFailure";
    this.stdout = detail.stdout;
    this.stderr = detail.stderr;
    this.exitCode = cause.code ?? null;
  }
}

export function nbdUri(address: { host: string; port: number }, volser = ""): string {
  return `nbd://${address.host}:${address.port}/${volser}`;
}

let pythonDir: string | null | undefined;

/** The directory of a python3 that can import libnbd's module, or null when there is none. */
function nbdPythonDir(): string | null {
  if (pythonDir !== undefined) return pythonDir;
  pythonDir = null;
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(python, ["-c", "import nbd, sys; print(sys.executable)"], {
      encoding: "utf8",
      timeout: 10_000,
    });
    if (probe.status === 0) {
      pythonDir = path.dirname(probe.stdout.trim());
      break;
    }
  }
  return pythonDir;
}

function installed(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { timeout: 10_000 }).status === 0;
}

/** The clients this machine lacks (nbdsh counts as missing without a python3 that has libnbd). */
export function missingNbdClients(): string[] {
  const missing: string[] = NBD_CLIENTS.filter((command) => !installed(command));
  if (!missing.includes("nbdsh") && nbdPythonDir() === null) missing.push("nbdsh");
  return missing;
}

/**
 * The clients this machine lacks, after a loud notice on the console when any is missing, so a
 * run that skips the interop tests says so (CI installs them all and must run them).
 */
export function missingNbdClientsNoticed(suite: string): string[] {
  const missing = missingNbdClients();
  if (missing.length > 0) {
    console.warn(
      `\n!!!!!!!! ${suite} SKIPPED: ${missing.join(", ")} not installed ` +
        "(Debian: qemu-utils libnbd-bin python3-libnbd; .ci/run installs them) !!!!!!!!\n",
    );
  }
  return missing;
}

export function haveNbdClients(): boolean {
  return missingNbdClients().length === 0;
}

/** Runs a client; resolves with its output, rejects with a ClientFailure. */
export function runClient(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ClientOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: options.timeoutMs ?? CLIENT_TIMEOUT_MS,
        maxBuffer: MAX_OUTPUT_BYTES,
        env: options.env ?? process.env,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error === null) resolve({ stdout, stderr });
        else
          reject(
            new ClientFailure(`${command} ${args.join(" ")}`, { stdout, stderr, cause: error }),
          );
      },
    );
  });
}

export function qemuImg(args: readonly string[]): Promise<ClientOutput> {
  return runClient("qemu-img", args);
}

export function qemuIo(args: readonly string[]): Promise<ClientOutput> {
  return runClient("qemu-io", args);
}

export function nbdcopy(args: readonly string[]): Promise<ClientOutput> {
  return runClient("nbdcopy", args);
}

export function nbdinfo(args: readonly string[]): Promise<ClientOutput> {
  return runClient("nbdinfo", args);
}

/** Runs nbdsh with the arguments given (e.g. ["-u", uri, "-c", script]). */
export function nbdsh(args: readonly string[]): Promise<ClientOutput> {
  const dir = nbdPythonDir();
  const env = dir === null ? process.env : { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  return runClient("nbdsh", args, { env });
}

/**
 * Runs a Python script in nbdsh on a handle `h` connected to `uri`, after asking for
 * base:allocation (for h.block_status) and turning libnbd's client-side checks off (strict mode
 * 0) so that bad requests reach the server. The script's prints come back as stdout.
 */
export function nbdshScript(uri: string, script: string): Promise<ClientOutput> {
  return nbdsh([
    "-c",
    "h.set_strict_mode(0)",
    "-c",
    "h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)",
    "-c",
    `h.connect_uri(${JSON.stringify(uri)})`,
    "-c",
    script,
  ]);
}

/** The extents `nbdinfo --map --json` prints: type 0 is data, 3 a hole that reads as zeros. */
export async function nbdinfoMap(
  uri: string,
): Promise<{ offset: number; length: number; type: number }[]> {
  const { stdout } = await nbdinfo(["--map", "--json", uri]);
  const extents = JSON.parse(stdout) as { offset: number; length: number; type: number }[];
  return extents.map(({ offset, length, type }) => ({ offset, length, type }));
}
