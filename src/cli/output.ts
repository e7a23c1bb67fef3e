// How the CLI prints: JSON for machines (--json), aligned tables and key-value lists for people,
// and errors as one line on stderr with the error code.

import { ERROR_CODES } from "../errors/codes.js";
import { isGsnapError } from "../errors/gsnap-error.js";

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The "Examples:" help text after a command's options, one command line each. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}\n`).join("")}`;
}

/** Prints rows as a table with the given columns (header, key). */
export function printTable(
  rows: readonly Record<string, unknown>[],
  columns: readonly [string, string][],
): void {
  const cells = rows.map((row) => columns.map(([, key]) => formatCell(row[key])));
  const widths = columns.map(([header], i) =>
    Math.max(header.length, ...cells.map((line) => line[i].length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(columns.map(([header]) => header))}\n`);
  for (const values of cells) process.stdout.write(`${line(values)}\n`);
  if (rows.length === 0) process.stdout.write("(none)\n");
}

/** Prints an object as "key: value" lines. */
export function printFields(fields: readonly [string, unknown][]): void {
  const width = Math.max(...fields.map(([label]) => label.length));
  for (const [label, value] of fields)
    process.stdout.write(`${`${label}:`.padEnd(width + 2)}${formatCell(value)}\n`);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatCell(value: unknown): string {
  if (value === undefined || value === null) return "-";
  if (typeof value === "number") return value.toLocaleString("en-US");
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

/** Prints an error and returns the exit code for it: the code's own, or 1 for a crash. */
export function reportError(error: unknown, json: boolean): number {
  if (isGsnapError(error)) {
    if (json)
      process.stderr.write(`${JSON.stringify({ code: error.code, message: error.message })}\n`);
    else process.stderr.write(`gsnap: ${error.code}: ${error.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(
    `gsnap: INTERNAL: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return ERROR_CODES.INTERNAL.exitCode;
}
