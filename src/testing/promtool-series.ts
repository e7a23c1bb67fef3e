// Turns scrapes of real systems into promtool's `input_series`: a timeline of phases, each a run
// of one-minute samples in which every system answers as one scrape did (or was down). Prometheus
// would see the same: a series repeats its value at each scrape, `up` is 1 while a scrape succeeds
// and 0 while it fails, and a series that leaves a scrape gets a stale marker. Pure: no I/O.

import assert from "node:assert";
import type { ScrapedSample } from "./prometheus-text.js";

/** What one system answered during a phase: its samples, or nothing (the scrape failed). */
export type ScrapeResult = readonly ScrapedSample[] | "down";

export interface Phase {
  /** Samples, one a minute, that the phase lasts. */
  readonly minutes: number;
  /** By instance (the scrape's `instance` label): what it answered. */
  readonly scrapes: ReadonlyMap<string, ScrapeResult>;
}

export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

/**
 * The input series of `phases` with the target labels `job` and `instance` added, as Prometheus
 * adds them; only metrics that `keep` names are taken (the rules need the gsnap ones only).
 */
export function inputSeries(
  phases: readonly Phase[],
  options: { job: string; keep: (name: string) => boolean },
): InputSeries[] {
  assert(phases.length > 0, "a timeline has a phase");
  // By series: its value in each phase, undefined where the series is absent.
  const byPhase = new Map<string, (number | undefined)[]>();
  const set = (series: string, phase: number, value: number) => {
    const values = byPhase.get(series) ?? phases.map(() => undefined);
    byPhase.set(series, values);
    values[phase] = value;
  };
  phases.forEach((phase, index) => {
    assert(Number.isInteger(phase.minutes) && phase.minutes > 0, "a phase lasts whole minutes");
    for (const [instance, scrape] of phase.scrapes) {
      const target = `job=${quote(options.job)},instance=${quote(instance)}`;
      set(`up{${target}}`, index, scrape === "down" ? 0 : 1);
      if (scrape === "down") continue;
      for (const sample of scrape) {
        if (!options.keep(sample.name)) continue;
        const labels = sample.labels === "" ? target : `${target},${sample.labels}`;
        set(`${sample.name}{${labels}}`, index, sample.value);
      }
    }
  });
  return [...byPhase].map(([series, values]) => ({
    series,
    values: values
      .map((value, index) =>
        run({ value, before: values[index - 1], count: phases[index].minutes }),
      )
      .join(" "),
  }));
}

/**
 * `count` samples of one series in promtool's notation (`v+0xN` is v N+1 times, `_xN` is N gaps):
 * `value`, or none, with a stale marker first when the series was there in the phase `before`.
 */
function run(options: { value?: number; before?: number; count: number }): string {
  const { value, before, count } = options;
  if (value !== undefined) return `${formatValue(value)}+0x${count - 1}`;
  if (before === undefined) return `_x${count}`;
  return count === 1 ? "stale" : `stale _x${count - 1}`;
}

function formatValue(value: number): string {
  assert(Number.isFinite(value), "promtool input takes finite values only");
  return Number.isSafeInteger(value) ? BigInt(value).toString() : String(value);
}

function quote(value: string): string {
  return JSON.stringify(value);
}
