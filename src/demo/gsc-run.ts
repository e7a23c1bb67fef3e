// Runs `gsnap gsc ... --wait` as a user would, its progress and result shown indented under the
// command like every command's output, and watches its job through `gsnap job list --json`
// meanwhile.

import { spawn } from "node:child_process";
import readline from "node:readline";
import type { Readable } from "node:stream";
import type { JobInfo } from "../gsc/job-service.js";
import { CLI_PATH, type ServeProcess } from "../testing/serve-process.js";
import { gsnapJson, indent, quoted, say } from "./narration.js";

/** Polling `job list` spawns a CLI each time (a few hundred ms); this only paces a fast machine. */
const POLL_INTERVAL_MS = 50;
/** A demo job on loopback ends in seconds; a job not seen after this long is not coming. */
const WATCH_TIMEOUT_MS = 120_000;

export interface GscRun {
  /** Resolves with the CLI's exit code once the job ended and the CLI printed its result. */
  readonly exited: Promise<number | null>;
}

/** Starts `gsnap gsc <args>` against `server` without waiting for it. */
export function startGsc(server: ServeProcess, args: readonly string[]): GscRun {
  say(`   $ gsnap gsc ${args.map(quoted).join(" ")}`);
  // Through pipes, not a terminal: the CLI prints a progress line per step (and every few
  // seconds) rather than redrawing one, and each line is shown as it comes.
  const child = spawn(process.execPath, [CLI_PATH, "gsc", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, GSNAP_API: server.apiUrl, GSNAP_TOKEN: server.token },
  });
  const shown = [child.stdout, child.stderr].map((stream) => showLines(stream));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    // `close`: the process ended and its output was read to the end.
    child.once("close", (code) => resolve(code));
  }).then(async (code) => {
    await Promise.all(shown);
    return code;
  });
  return { exited };
}

/** Shows each line of `stream` indented; resolves once the stream ended. */
function showLines(stream: Readable): Promise<void> {
  const lines = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on("line", (line) => say(indent(line)));
  return new Promise((resolve) => lines.once("close", () => resolve()));
}

/** Polls the jobs of `server` until one satisfies `until`; answers that job. */
export async function watchJob(
  server: ServeProcess,
  until: (job: JobInfo) => boolean,
): Promise<JobInfo> {
  const deadline = Date.now() + WATCH_TIMEOUT_MS;
  for (;;) {
    const jobs = await gsnapJson<JobInfo[]>(server, "job", "list");
    const found = jobs.find(until);
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      throw new Error(`no job got there within ${WATCH_TIMEOUT_MS} ms: ${JSON.stringify(jobs)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** True once the job's snap of the source (step 506) ended: host writes no longer reach it. */
export function pastSourceSnap(job: JobInfo): boolean {
  return job.step > 506 || job.steps.some((record) => record.step === 506 && record.endedAt);
}
