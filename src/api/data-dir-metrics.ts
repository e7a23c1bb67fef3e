// The size and free space of the file system that holds the data dir (the catalog, the segment
// files, the journal and, with an object store, the staged segments), read with statfs on each
// scrape, so that an alert sees the disk fill before writes get NO_SPACE.

import fs from "node:fs";
import { Gauge, type Registry } from "prom-client";

/**
 * Registers the data dir gauges in `registry`, labelled with the dir; `dataDir` is asked on each
 * scrape, so that the store can be watched after the metrics exist.
 */
export function registerDataDirMetrics(
  registry: Registry,
  dataDir: () => string | undefined,
): void {
  statfsGauge(registry, {
    name: "gsnap_data_dir_size_bytes",
    help: "Size of the file system that holds the data dir",
    dataDir,
    read: (stats) => stats.blocks * stats.bsize,
  });
  statfsGauge(registry, {
    name: "gsnap_data_dir_free_bytes",
    help: "Bytes of the data dir's file system that gsnap may still use (the blocks free to unprivileged users)",
    dataDir,
    read: (stats) => stats.bavail * stats.bsize,
  });
}

function statfsGauge(
  registry: Registry,
  spec: {
    name: string;
    help: string;
    dataDir: () => string | undefined;
    read: (stats: fs.StatsFs) => number;
  },
): void {
  const metric: Gauge<"dir"> = new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: ["dir"],
    registers: [registry],
    async collect() {
      metric.reset();
      const dir = spec.dataDir();
      if (dir === undefined) return;
      try {
        metric.set({ dir }, spec.read(await fs.promises.statfs(dir)));
      } catch {
        // A data dir that cannot be read leaves its series out rather than failing the scrape:
        // every other metric still answers, and the store's own errors say what is wrong.
      }
    },
  });
}
