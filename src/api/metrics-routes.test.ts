import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis, TRACK_SIZE_BYTES } from "../testing/api-harness.js";

afterEach(stopApis);

const METRIC_NAMES = [
  "gsnap_nbd_requests_total",
  "gsnap_nbd_bytes_total",
  "gsnap_nbd_request_seconds",
  "gsnap_store_segment_bytes",
  "gsnap_store_live_bytes",
  "gsnap_store_disk_full",
  "gsnap_journal_entries",
  "gsnap_journal_used_bytes",
  "gsnap_journal_capacity_bytes",
  "gsnap_volumes",
  "gsnap_volume_allocated_bytes",
  "gsnap_volume_inconsistent",
  "gsnap_data_dir_size_bytes",
  "gsnap_data_dir_free_bytes",
  "gsnap_link_up",
  "gsnap_path_state",
  "gsnap_pair_state",
  "gsnap_pair_suspended",
  "gsnap_gsc_jobs_total",
  "gsnap_gsc_jobs_running",
  "gsnap_gsc_jobs_queued",
  "process_cpu_user_seconds_total",
  "nodejs_heap_size_used_bytes",
];

describe("GET /metrics", () => {
  it("serves Prometheus text with every metric after the NBD observer counted a request", async () => {
    const api = await startApi();
    api.metrics.request("read", 4096, 0.001, true);
    api.metrics.request("write", 4096, 0.003, false);
    const reply = await api.call("GET", "/metrics");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of METRIC_NAMES)
      expect(reply.text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    expect(reply.text).toMatch(/^gsnap_nbd_requests_total\{op="read",result="ok"\} 1$/m);
    expect(reply.text).toMatch(/^gsnap_nbd_requests_total\{op="write",result="error"\} 1$/m);
    expect(reply.text).toMatch(/^gsnap_nbd_bytes_total\{op="read"\} 4096$/m);
    expect(reply.text).toMatch(/^gsnap_nbd_request_seconds_count\{op="read"\} 1$/m);
  });

  it("reads the store gauges at each scrape", async () => {
    const api = await startApi();
    const usage = api.store.usage();
    const first = (await api.call("GET", "/metrics")).text;
    expect(first).toMatch(/^gsnap_volumes 2$/m);
    expect(first).toMatch(new RegExp(`^gsnap_store_segment_bytes ${usage.segmentBytes}$`, "m"));
    expect(first).toMatch(new RegExp(`^gsnap_store_live_bytes ${usage.liveBytes}$`, "m"));
    expect(first).toMatch(/^gsnap_store_disk_full 0$/m);
    expect(first).toMatch(
      new RegExp(`^gsnap_journal_capacity_bytes ${usage.journal.capacityBytes}$`, "m"),
    );
    expect(first).toMatch(
      new RegExp(
        `^gsnap_volume_allocated_bytes\\{volser="VOL001"\\} ${3 * TRACK_SIZE_BYTES}$`,
        "m",
      ),
    );
    await api.call("DELETE", "/v1/volumes/VOL001");
    const second = (await api.call("GET", "/metrics")).text;
    expect(second).toMatch(/^gsnap_volumes 1$/m);
    expect(second).not.toMatch(/volser="VOL001"/);
    expect(second).toMatch(/^gsnap_volume_allocated_bytes\{volser="VOL002"\} 0$/m);
  });

  it("answers STORE_CLOSED once the store is closed", async () => {
    const api = await startApi();
    await api.store.close();
    const reply = await api.call("GET", "/metrics");
    expect(reply.status).toBe(503);
    expect(reply.body.code).toBe("STORE_CLOSED");
  });
});
