// Reads the Prometheus text exposition format (what `GET /metrics` answers) into samples, for
// tests that turn a real system's scrape into promtool input. Pure: no I/O.

import assert from "node:assert";

export interface ScrapedSample {
  readonly name: string;
  /** The labels as written between the braces, escapes kept: `op="read",result="ok"`; "" for none. */
  readonly labels: string;
  readonly value: number;
}

/** `name{labels} value [timestamp]`; label values cannot hold `} ` before the value, ours never do. */
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;

/** The samples of `text`; comments (# HELP, # TYPE) and blank lines are skipped. */
export function parseExposition(text: string): ScrapedSample[] {
  const samples: ScrapedSample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    assert(match !== null, `a sample line of the exposition format: ${line}`);
    samples.push({ name: match[1], labels: match[2] ?? "", value: parseValue(match[3]) });
  }
  return samples;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  // prom-client writes NaN as "Nan".
  if (/^nan$/i.test(text)) return Number.NaN;
  const value = Number(text);
  assert(!Number.isNaN(value), `a sample value: ${text}`);
  return value;
}

/** The labels of a sample (`op="read",result="ok"`) by name, values unescaped. */
export function parseLabels(labels: string): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const [, name, value] of labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    parsed[name] = value.replace(/\\(.)/g, (_all, escaped: string) =>
      escaped === "n" ? "\n" : escaped,
    );
  }
  return parsed;
}
