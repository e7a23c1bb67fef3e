import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis } from "../testing/api-harness.js";
import { exampleJob } from "../testing/memory-jobs.js";

afterEach(stopApis);

describe("GET /metrics of GSC jobs", () => {
  it("counts jobs by result since the start, each result from 0, and the running and queued now", async () => {
    const api = await startApi();
    const first = (await api.call("GET", "/metrics")).text;
    expect(first).toMatch(/^gsnap_gsc_jobs_total\{result="succeeded"\} 0$/m);
    expect(first).toMatch(/^gsnap_gsc_jobs_total\{result="failed"\} 0$/m);
    expect(first).toMatch(/^gsnap_gsc_jobs_total\{result="cancelled"\} 0$/m);
    expect(first).toMatch(/^gsnap_gsc_jobs_running 0$/m);

    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 510 }));
    api.jobs.setJob(exampleJob("J000002"));
    api.jobs.setJob(exampleJob("J000003"));
    const busy = (await api.call("GET", "/metrics")).text;
    expect(busy).toMatch(/^gsnap_gsc_jobs_running 1$/m);
    expect(busy).toMatch(/^gsnap_gsc_jobs_queued 2$/m);

    api.jobs.advance("J000001", { state: "failed", resultCode: "GSC_TRANSFER_FAILED" });
    await api.jobs.cancel("J000002");
    const ended = (await api.call("GET", "/metrics")).text;
    expect(ended).toMatch(/^gsnap_gsc_jobs_total\{result="failed"\} 1$/m);
    expect(ended).toMatch(/^gsnap_gsc_jobs_total\{result="cancelled"\} 1$/m);
    expect(ended).toMatch(/^gsnap_gsc_jobs_total\{result="succeeded"\} 0$/m);
    expect(ended).toMatch(/^gsnap_gsc_jobs_running 0$/m);
    expect(ended).toMatch(/^gsnap_gsc_jobs_queued 1$/m);
    // A second scrape counts nothing twice.
    expect((await api.call("GET", "/metrics")).text).toMatch(
      /^gsnap_gsc_jobs_total\{result="failed"\} 1$/m,
    );
  });

  it("does not count a job that ended before the system started", async () => {
    const api = await startApi();
    api.jobs.setJob(
      exampleJob("J000001", { state: "failed", step: 524, endedAt: "2020-01-01T00:00:00.000Z" }),
    );
    const text = (await api.call("GET", "/metrics")).text;
    expect(text).toMatch(/^gsnap_gsc_jobs_total\{result="failed"\} 0$/m);
  });

  it("counts no results when the API has no jobs (the unlabelled gauges stay at 0)", async () => {
    const api = await startApi({ withoutPaths: true });
    const text = (await api.call("GET", "/metrics")).text;
    expect(text).not.toMatch(/^gsnap_gsc_jobs_total\{/m);
    expect(text).toMatch(/^gsnap_gsc_jobs_running 0$/m);
  });
});
