// How `gsnap gsc` and `gsnap job` print jobs for people: a table of jobs, one job's fields, its
// step timings, and the job's progress as one line (for the progress drawn while waiting).

import { GSC_STEPS, type JobInfo, type JobProgress, type StepRecord } from "../gsc/job-service.js";
import { formatBytes, printFields, printTable } from "./output.js";
import { formatDuration, formatProgressLine } from "./progress-line.js";

export const JOB_COLUMNS: readonly [string, string][] = [
  ["ID", "id"],
  ["STATE", "state"],
  ["STEP", "step"],
  ["DONE", "done"],
  ["SOURCE", "source"],
  ["TARGET", "target"],
  ["RESULT", "result"],
];

/** The step a job is at, by number and name: "510 transfer". */
export function stepText(job: Pick<JobInfo, "step">): string {
  return `${job.step} ${GSC_STEPS[job.step] ?? "unknown step"}`;
}

/**
 * How far the job got, in tracks: from step 510 those sent of those that differed (the copy's
 * work), before it those of P's extents (none done yet).
 */
export function jobTracks(progress: JobProgress): { done: number; total: number; unit: string } {
  if (progress.tracksToSend === undefined || progress.tracksSent === undefined) {
    return { done: progress.tracksDone, total: progress.tracksTotal, unit: "tracks" };
  }
  return { done: progress.tracksSent, total: progress.tracksToSend, unit: "tracks sent" };
}

function jobRow(job: JobInfo): Record<string, unknown> {
  const { done, total, unit } = jobTracks(job.progress);
  return {
    id: job.id,
    state: job.state,
    step: stepText(job),
    done: `${count(done)}/${count(total)} ${unit}`,
    source: job.request.source,
    target: job.request.target,
    result: job.resultCode,
  };
}

export function printJobs(jobs: readonly JobInfo[]): void {
  printTable(jobs.map(jobRow), JOB_COLUMNS);
}

/** One job in full: what was asked, where it is, how far it got, its steps and its result. */
export function printJobDetails(job: JobInfo): void {
  const { request, progress } = job;
  const parameters = [request.source, request.intermediate, request.target];
  if (request.targetIntermediate !== undefined) parameters.push(request.targetIntermediate);
  printFields([
    ["Job", job.id],
    ["Request", parameters.join(", ")],
    ["State", job.state],
    ["Step", stepText(job)],
    ["Tracks", `${count(progress.tracksDone)} of ${count(progress.tracksTotal)}`],
    ...sentField(progress),
    ["Bytes", `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}`],
    ["Created", job.createdAt],
    ["Ended", job.endedAt],
    ["Result", resultText(job)],
    ...resumedFields(job),
  ]);
  if (job.steps.length > 0) {
    process.stdout.write("\n");
    printStepTimings(job);
  }
}

/**
 * "Resumed: from step 508 (establish pair) after a system restart at 2026-...", one line each
 * time the job went on after a restart or a link failure; nothing for a job that never stopped.
 */
export function resumedFields(job: Pick<JobInfo, "resumed">): [string, string][] {
  return (job.resumed ?? []).map((entry) => [
    "Resumed",
    `from step ${entry.fromStep} (${GSC_STEPS[entry.fromStep]}) after a ${entry.after} at ${entry.at}`,
  ]);
}

/** "Sent: 1,073 of 1,318 tracks that differed", from step 510; nothing before. */
function sentField(progress: JobProgress): [string, string][] {
  if (progress.tracksToSend === undefined) return [];
  const sent = `${count(progress.tracksSent ?? 0)} of ${count(progress.tracksToSend)}`;
  return [["Sent", `${sent} tracks that differed`]];
}

/** The step timings table: step number, name, duration (or "running"), and notes if any. */
export function printStepTimings(job: JobInfo): void {
  const columns: [string, string][] = [
    ["STEP", "step"],
    ["NAME", "name"],
    ["DURATION", "duration"],
  ];
  if (job.steps.some((record) => record.note !== undefined)) columns.push(["NOTE", "note"]);
  const rows = job.steps.map((record) => ({
    step: record.step,
    name: record.name,
    duration: stepDuration(record),
    note: record.note,
  }));
  printTable(rows, columns);
}

/** "OK", or the code and message of a job that did not succeed; undefined while it runs. */
export function resultText(job: JobInfo): string | undefined {
  if (job.resultCode === undefined) return undefined;
  return job.resultMessage === undefined
    ? job.resultCode
    : `${job.resultCode}: ${job.resultMessage}`;
}

/** 120 ms under a second, else 12 s, 4 min 05 s...; "running" while the step runs. */
export function stepDuration(record: StepRecord): string {
  if (record.endedAt === undefined) return "running";
  const ms = Date.parse(record.endedAt) - Date.parse(record.startedAt);
  return ms < 1000 ? `${Math.max(0, ms)} ms` : formatDuration(ms / 1000);
}

/** The job's progress as one line: its id, its step, the bar, tracks, bytes, rate and ETA. */
export function jobProgressLine(job: JobInfo): string {
  const { progress } = job;
  const line = formatProgressLine({
    label: `${job.id} ${stepText(job)}`,
    ...jobTracks(progress),
    rateBytesPerSecond: progress.rateBytesPerSecond,
    etaSeconds: progress.etaSeconds,
  });
  const bytes = `${formatBytes(progress.bytesDone)}/${formatBytes(progress.bytesTotal)}`;
  const parts = line.split("  ");
  // The bytes go right after the tracks: before the rate and the ETA, as people read them.
  parts.splice(3, 0, bytes);
  return parts.join("  ");
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}
