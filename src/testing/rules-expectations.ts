// What promtool must find when the rules in deploy/prometheus/ read series scraped from real
// systems: the values of the rate recording rules, worked out from two scrapes, and the data dir
// samples the disk alerts read. Pure: the scrapes come in, expectations go out.

import assert from "node:assert";
import { ApiMetrics } from "../api/api-metrics.js";
import type { ObjectDeviceStats } from "../objects/object-segment-device.js";
import { parseExposition, parseLabels } from "./prometheus-text.js";
import type { ScrapeResult } from "./promtool-series.js";

export type Labels = Record<string, string>;
export type Scrapes = ReadonlyMap<string, ScrapeResult>;

/** A recording rule of the form `sum by (job, instance, ...by) (rate(metric[5m]))`. */
export interface RateRule {
  readonly record: string;
  readonly metric: string;
  readonly by: readonly string[];
}

/**
 * What each rate rule records at minute 8 when `before` stands for minutes 0 to 4 and `after` for
 * minutes 5 to 14: the 5-minute window holds two samples of `before` and five of `after`, so the
 * rate is (after - before) / 300 s, with no extrapolation. A sum of at most two series is exact in
 * any order; more would make the value depend on the order Prometheus adds them in.
 */
export function expectedRates(
  rules: readonly RateRule[],
  options: { job: string; before: Scrapes; after: Scrapes },
) {
  return rules.map(({ record, metric, by }) => {
    const groups = new Map<string, { labels: Labels; rates: number[] }>();
    for (const [instance, scrape] of options.after) {
      const earlier = options.before.get(instance);
      if (scrape === "down" || earlier === undefined || earlier === "down") continue;
      for (const sample of scrape.filter((candidate) => candidate.name === metric)) {
        const was = earlier.find((old) => old.name === metric && old.labels === sample.labels);
        assert(was !== undefined, `${metric}{${sample.labels}} is in the scrape before`);
        const labels: Labels = { job: options.job, instance };
        for (const name of by) labels[name] = parseLabels(sample.labels)[name];
        const key = JSON.stringify(labels);
        const group = groups.get(key) ?? { labels, rates: [] };
        groups.set(key, group);
        group.rates.push((sample.value - was.value) / 300);
      }
    }
    assert(groups.size > 0, `${metric} has series to rate`);
    const exp_samples = [...groups.values()].map(({ labels, rates }) => {
      assert(rates.length <= 2, `${record}: at most two series a group`);
      const series = Object.entries(labels).map(([name, v]) => `${name}=${JSON.stringify(v)}`);
      return { labels: `${record}{${series.join(",")}}`, value: rates.reduce((x, y) => x + y, 0) };
    });
    return { expr: record, eval_time: "8m", exp_samples };
  });
}

/** Each data dir in `scrapes`: its labels as an alert has them, its free bytes and its size. */
export function dataDirs(scrapes: Scrapes, job: string) {
  return [...scrapes].flatMap(([instance, scrape]) => {
    if (scrape === "down") return [];
    return scrape
      .filter((sample) => sample.name === "gsnap_data_dir_free_bytes")
      .map((sample) => {
        const size = scrape.find(
          (other) => other.name === "gsnap_data_dir_size_bytes" && other.labels === sample.labels,
        );
        assert(size !== undefined, "a data dir's free bytes come with its size");
        const labels: Labels = { job, instance, dir: parseLabels(sample.labels).dir };
        return { labels, free: sample.value, size: size.value };
      });
  });
}

/**
 * The names of the object store metrics, from ApiMetrics with an object store behind it: the
 * systems the tests scrape keep chunks locally, and show none of them.
 */
export async function objectStoreMetricNames(): Promise<Set<string>> {
  const metrics = new ApiMetrics();
  const stats: ObjectDeviceStats = {
    puts: 1,
    putBytes: 1,
    gets: 1,
    getBytes: 1,
    deletes: 1,
    lists: 1,
    retries: 1,
    failures: 1,
    cacheHits: 1,
    cacheMisses: 1,
    cacheBytes: 1,
    cacheEvictions: 1,
    stagedSegments: 1,
    stagedBytes: 1,
    uploadFailures: 1,
  };
  metrics.watchChunks({
    kind: "s3",
    url: "s3://bucket/prefix/",
    endpoint: "http://127.0.0.1:7480",
    stats: () => stats,
  });
  return new Set(parseExposition(await metrics.text()).map((sample) => sample.name));
}
