// `gsnap gsc --wait` and `gsnap job wait`: follows a job over the API's event stream until it ends,
// drawing its progress on stderr, then prints the result and fails with the job's own error code
// when it did not succeed.
//
// On a terminal one line is redrawn in place; elsewhere (a log, a CI job) a plain line is printed
// when the step changes and otherwise at most every PLAIN_INTERVAL_MS.

import { GsnapError } from "../errors/gsnap-error.js";
import type { JobInfo } from "../gsc/job-service.js";
import { isJobEnded } from "../gsc/job-states.js";
import { type ApiTarget, authHeaders, callApi, replyError, unreachable } from "./api-client.js";
import { jobProgressLine, printStepTimings, stepText } from "./job-print.js";
import { printJson } from "./output.js";
import { PLAIN_INTERVAL_MS, type ProgressOutput } from "./pair-wait.js";

/**
 * When the event stream closes before the job ended (the server restarted, a proxy cut the
 * connection), the follower looks at the job and reconnects after this long: soon enough not to
 * miss much, slow enough not to hammer a server that is coming back.
 */
export const RECONNECT_DELAY_MS = 500;

/**
 * No event is larger than one job's JSON (a few KiB with all its step records); a stream that
 * buffers more than this without an event boundary is not an event stream.
 */
export const MAX_EVENT_BYTES = 1024 * 1024;

export interface FollowOptions {
  readonly output?: ProgressOutput;
  readonly plainIntervalMs?: number;
}

/** Follows job `id` until it ends and answers it then. */
export async function followJob(
  target: ApiTarget,
  id: string,
  options: FollowOptions = {},
): Promise<JobInfo> {
  const draw = progressDrawer(options.output ?? process.stderr, options.plainIntervalMs);
  for (;;) {
    const last = await readEvents(target, id, draw);
    if (last !== undefined && isJobEnded(last)) return last;
    const current = await callApi<JobInfo>(target, { method: "GET", path: jobPath(id) });
    if (isJobEnded(current)) {
      draw(current);
      return current;
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
  }
}

/**
 * Prints an ended job (JSON, or its result and step timings) and, unless it succeeded, fails with
 * its result code and message.
 */
export function reportJobEnd(job: JobInfo, json: boolean): void {
  if (json) printJson(job);
  else {
    const result = job.resultCode === undefined ? "" : ` (${job.resultCode})`;
    process.stdout.write(`Job ${job.id} ${job.state}${result}\n`);
    if (job.steps.length > 0) printStepTimings(job);
  }
  if (job.state === "succeeded") return;
  const code =
    job.resultCode === undefined || job.resultCode === "OK" ? "INTERNAL" : job.resultCode;
  throw new GsnapError(
    code,
    `GSC job ${job.id} ${job.state} at step ${stepText(job)}: ` +
      (job.resultMessage ?? "the server gave no reason"),
  );
}

export function jobPath(id: string, action = ""): string {
  return `/v1/jobs/${encodeURIComponent(id)}${action}`;
}

/** Reads the job's event stream until it closes; answers the last job it carried. */
async function readEvents(
  target: ApiTarget,
  id: string,
  onJob: (job: JobInfo) => void,
): Promise<JobInfo | undefined> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${jobPath(id, "/events")}`, {
      headers: { ...authHeaders(target), accept: "text/event-stream" },
    });
  } catch (error) {
    throw unreachable(target, error);
  }
  if (!response.ok) throw replyError(response, await response.text(), target);
  let last: JobInfo | undefined;
  try {
    for await (const data of eventData(response)) {
      last = parseJob(id, data);
      onJob(last);
    }
  } catch (error) {
    // A stream cut in the middle is like one that closed: the caller looks at the job again.
    if (error instanceof GsnapError) throw error;
  }
  return last;
}

function parseJob(id: string, data: string): JobInfo {
  try {
    return JSON.parse(data) as JobInfo;
  } catch (error) {
    throw new GsnapError(
      "INTERNAL",
      `Cannot follow job "${id}": the server sent an event that is not JSON: ${data.slice(0, 200)}`,
      { cause: error },
    );
  }
}

/** The data of each `event: job` in a server-sent event stream. */
async function* eventData(response: Response): AsyncGenerator<string> {
  if (response.body === null) return;
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true }).replaceAll("\r\n", "\n");
    let boundary = buffered.indexOf("\n\n");
    while (boundary >= 0) {
      const event = parseEvent(buffered.slice(0, boundary));
      buffered = buffered.slice(boundary + 2);
      if (event.name === "job" && event.data !== "") yield event.data;
      boundary = buffered.indexOf("\n\n");
    }
    if (buffered.length > MAX_EVENT_BYTES) {
      throw new GsnapError(
        "INTERNAL",
        `Cannot follow the job: the server sent more than ${MAX_EVENT_BYTES} bytes without an event`,
      );
    }
  }
}

function parseEvent(text: string): { name: string; data: string } {
  let name = "message";
  const data: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("event:")) name = line.slice("event:".length).trim();
    else if (line.startsWith("data:")) data.push(line.slice("data:".length).replace(/^ /, ""));
  }
  return { name, data: data.join("\n") };
}

/** A function drawing each state of the job as the output allows. */
function progressDrawer(
  output: ProgressOutput,
  plainIntervalMs = PLAIN_INTERVAL_MS,
): (job: JobInfo) => void {
  const tty = output.isTTY === true;
  let printedAtMs = Number.NEGATIVE_INFINITY;
  let printedStep: number | undefined;
  let printedLine: string | undefined;
  return (job) => {
    const ended = isJobEnded(job);
    const line = jobProgressLine(job);
    if (tty) output.write(`\r${line}\x1b[K${ended ? "\n" : ""}`);
    else if (
      line !== printedLine &&
      (ended || job.step !== printedStep || Date.now() - printedAtMs >= plainIntervalMs)
    ) {
      // A plain line only when it says something new: the job's end at step 524 reads as
      // its start there did.
      output.write(`${line}\n`);
      printedAtMs = Date.now();
      printedStep = job.step;
      printedLine = line;
    }
  };
}
