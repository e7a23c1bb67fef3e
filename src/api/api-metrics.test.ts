import { describe, expect, it } from "vitest";
import { ApiMetrics } from "./api-metrics.js";

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("ApiMetrics", () => {
  it("counts requests by operation and result, bytes of successes only, and their times", async () => {
    const metrics = new ApiMetrics();
    metrics.request("read", 4096, 0.0004, true);
    metrics.request("read", 8192, 0.002, true);
    metrics.request("write", 4096, 0.01, false);
    const text = await metrics.text();
    expect(sample(text, 'gsnap_nbd_requests_total{op="read",result="ok"}')).toBe(2);
    expect(sample(text, 'gsnap_nbd_requests_total{op="write",result="error"}')).toBe(1);
    expect(sample(text, 'gsnap_nbd_bytes_total{op="read"}')).toBe(12288);
    expect(sample(text, 'gsnap_nbd_bytes_total{op="write"}')).toBeUndefined();
    expect(sample(text, 'gsnap_nbd_request_seconds_count{op="read"}')).toBe(2);
    expect(sample(text, 'gsnap_nbd_request_seconds_bucket{le="0.0005",op="read"}')).toBe(1);
  });

  it("keeps each instance's metrics in its own registry", async () => {
    const first = new ApiMetrics();
    const second = new ApiMetrics();
    first.request("flush", 0, 0.001, true);
    expect(await second.text()).not.toMatch(/op="flush"/);
  });

  it("leaves the store gauges at zero until it watches a store", async () => {
    const text = await new ApiMetrics().text();
    expect(sample(text, "gsnap_volumes")).toBe(0);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it("refuses a negative byte count as a programmer error", () => {
    expect(() => new ApiMetrics().request("read", -1, 0, true)).toThrow(/bytes/);
  });
});
