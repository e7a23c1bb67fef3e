// One line showing how far a long operation got: a pair's initial copy now, a GSC job later.
// Pure formatting; the caller decides where and how often to draw it.
//
//   VOL001 [##########..........]  52%  26,040/50,085 tracks  432 MB/s  ETA 12 s

import assert from "node:assert";

export interface Progress {
  /** What is progressing, e.g. the VOLSER. */
  readonly label: string;
  readonly done: number;
  readonly total: number;
  /** What `done` and `total` count, e.g. "tracks". */
  readonly unit: string;
  /** Bytes per second now; 0 when idle (then no rate is shown). */
  readonly rateBytesPerSecond: number;
  /** Seconds left; null when unknown (then no ETA is shown). */
  readonly etaSeconds: number | null;
}

/** Characters in the bar: narrow enough to leave room for the numbers on an 80-column terminal. */
export const BAR_WIDTH = 20;

/**
 * Rates in decimal units, as the bandwidth cap (`--bandwidth` in MB/s, 10^6 B/s) and storage
 * vendors give them: one unit for rates in the CLI and the dashboard.
 */
const RATE_UNITS = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];

export function formatProgressLine(progress: Progress): string {
  assert(progress.total >= 0, "a progress total is a count");
  assert(progress.done >= 0, "a progress done is a count");
  assert(progress.done <= progress.total, "progress done is at most its total");
  const fraction = progress.total === 0 ? 1 : progress.done / progress.total;
  const filled = Math.floor(fraction * BAR_WIDTH);
  const bar = `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`;
  const parts = [
    `${progress.label} ${bar}`,
    formatPercent(progress.done, progress.total),
    `${count(progress.done)}/${count(progress.total)} ${progress.unit}`,
  ];
  if (progress.rateBytesPerSecond > 0) parts.push(formatRate(progress.rateBytesPerSecond));
  if (progress.etaSeconds !== null) parts.push(`ETA ${formatDuration(progress.etaSeconds)}`);
  return parts.join("  ");
}

/** Whole percent, rounded, but 100% only when all is done and 0% only when nothing is. */
function formatPercent(done: number, total: number): string {
  if (done === total) return "100%";
  const percent = Math.min(99, Math.max(done === 0 ? 0 : 1, Math.round((done / total) * 100)));
  return `${percent}%`;
}

/** 432 MB/s, 9.5 MB/s: three significant digits at most. */
export function formatRate(bytesPerSecond: number): string {
  let value = bytesPerSecond;
  let unit = 0;
  while (value >= 1000 && unit < RATE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 10 || unit === 0 ? 0 : 1;
  return `${value.toFixed(digits)} ${RATE_UNITS[unit]}`;
}

/** 12 s, 4 min 05 s, 2 h 10 min. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.ceil(seconds));
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} min`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}
