import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis } from "../testing/api-harness.js";
import { ApiMetrics } from "./api-metrics.js";

afterEach(stopApis);

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics of the data dir", () => {
  it("shows the size and free bytes of the data dir's file system, as statfs says", async () => {
    const api = await startApi();
    const dir = api.store.dataDir;
    const text = (await api.call("GET", "/metrics")).text;
    const stats = await fs.promises.statfs(dir);
    const size = sample(text, `gsnap_data_dir_size_bytes{dir="${dir}"}`);
    const free = sample(text, `gsnap_data_dir_free_bytes{dir="${dir}"}`);
    expect(size).toBe(stats.blocks * stats.bsize);
    // Other tests write to the same file system meanwhile: within 1 GiB of the second look.
    expect(Math.abs((free ?? 0) - stats.bavail * stats.bsize)).toBeLessThan(2 ** 30);
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThanOrEqual(size ?? 0);
  });

  it("leaves the series out while there is no store, or its dir cannot be read", async () => {
    const metrics = new ApiMetrics();
    expect(await metrics.text()).not.toMatch(/^gsnap_data_dir_\w+\{/m);
    const api = await startApi();
    metrics.watch({
      usage: () => api.store.usage(),
      listVolumes: () => [],
      showVolume: (volser) => api.store.showVolume(volser),
      dataDir: "/nonexistent/gsnap-data",
    });
    const text = await metrics.text();
    expect(text).not.toMatch(/^gsnap_data_dir_\w+\{/m);
    expect(text).toMatch(/^gsnap_volumes 2$/m);
  });
});
