// Metrics whose values a service keeps (totals, sizes): each scrape resets the metric and sets it
// from the service's samples, so that a series whose subject is gone (a removed path, a
// terminated pair, an object store not yet open) goes with it.

import { Counter, Gauge, type Registry } from "prom-client";

/** One sample to set: its labels and its value. */
export type Sample<L extends string> = [Partial<Record<L, string>>, number];

export interface MetricSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly samples: () => Sample<L>[];
}

/**
 * A counter whose totals the services keep: each scrape resets it and adds the current totals,
 * so that a removed path or a terminated pair takes its series with it.
 */
export function counter<L extends string>(registry: Registry, spec: MetricSpec<L>): void {
  const metric: Counter<L> = new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect: () => {
      metric.reset();
      for (const [labels, value] of spec.samples()) metric.inc(labels, value);
    },
  });
}

export function gauge<L extends string>(registry: Registry, spec: MetricSpec<L>): void {
  const metric: Gauge<L> = new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect: () => {
      metric.reset();
      for (const [labels, value] of spec.samples()) metric.set(labels, value);
    },
  });
}
