// CPU time of the processes of a benchmark, read from Linux's /proc: a running process's own
// user + system time (all its threads, live and ended), and the time of the children this process
// has waited for (how nbdcopy, which exits at the end of its copy, is measured).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";

/** Clock ticks per second, the unit of the times in /proc/PID/stat (100 on most Linux). */
const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
assert(Number.isInteger(TICKS_PER_SECOND), "getconf CLK_TCK must answer a whole number");
assert(TICKS_PER_SECOND > 0, "getconf CLK_TCK must answer a positive number");

/**
 * The fields of /proc/PID/stat after the command name, which is in parentheses and may hold
 * spaces: index 0 is field 3 (state) of proc(5), so field N is at index N - 3.
 */
function statFields(pid: number | "self"): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  assert(fields.length >= 15, `/proc/${pid}/stat must have the fields of proc(5)`);
  return fields;
}

function seconds(fields: string[], numbers: number[]): number {
  let ticks = 0;
  for (const number of numbers) ticks += Number(fields[number - 3]);
  assert(Number.isFinite(ticks), "the times of /proc/PID/stat must be numbers");
  return ticks / TICKS_PER_SECOND;
}

/** User + system seconds that process `pid` has used so far: utime + stime, every thread. */
export function cpuSeconds(pid: number): number {
  return seconds(statFields(pid), [14, 15]);
}

/**
 * User + system seconds of every child process this process has waited for (cutime + cstime):
 * read before and after a command run to its end, the difference is that command's CPU.
 */
export function waitedChildrenCpuSeconds(): number {
  return seconds(statFields("self"), [16, 17]);
}
