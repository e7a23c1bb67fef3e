// Garbage collections of a `gsnap serve` process so far, by kind, from its Prometheus metrics
// (GET /metrics, prom-client's default `nodejs_gc_duration_seconds` histogram): read before and
// after a measure, the difference is the collections during it.

import type { ServeProcess } from "../src/testing/serve-process.js";

export const GC_KINDS = ["minor", "major", "incremental", "weakcb"] as const;
export type GcKind = (typeof GC_KINDS)[number];
export type GcCounts = Record<GcKind, number>;

const COUNT_LINE = /^nodejs_gc_duration_seconds_count\{kind="(\w+)"\} (\d+)$/gm;

/** The collections of each kind since `server` started; a kind it has not run yet counts 0. */
export async function gcCounts(server: ServeProcess): Promise<GcCounts> {
  const response = await fetch(`${server.apiUrl}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}: ${text}`);
  const counts: GcCounts = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
  for (const [, kind, count] of text.matchAll(COUNT_LINE)) {
    if ((GC_KINDS as readonly string[]).includes(kind)) counts[kind as GcKind] = Number(count);
  }
  return counts;
}

/** The collections of each kind between two readings of one process. */
export function gcCountsSince(before: GcCounts, after: GcCounts): GcCounts {
  const since = { ...after };
  for (const kind of GC_KINDS) {
    since[kind] -= before[kind];
    if (since[kind] < 0)
      throw new Error(`The ${kind} GC count went down: was the server restarted?`);
  }
  return since;
}
