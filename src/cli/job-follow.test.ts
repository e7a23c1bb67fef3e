import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { JobInfo } from "../gsc/job-service.js";
import { type ApiUnderTest, startApi, stopApis, TOKEN } from "../testing/api-harness.js";
import { runJobScript } from "../testing/job-script.js";
import type { JobChange } from "../testing/memory-jobs.js";
import { exampleJob } from "../testing/memory-jobs.js";
import { followJob } from "./job-follow.js";

afterEach(stopApis);

/** A stderr that records what is written and moves the job on after each write. */
function scripted(api: ApiUnderTest, isTTY: boolean, changes: JobChange[]) {
  const written: string[] = [];
  const output = {
    isTTY,
    write(text: string) {
      written.push(text);
      const next = changes.shift();
      if (next !== undefined) setTimeout(() => api.jobs.advance("J000001", next), 1);
    },
  };
  return { written, output };
}

describe("followJob", () => {
  it("redraws one line on a terminal with the step, the progress, the rate and the ETA", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 508 }));
    const { written, output } = scripted(api, true, [
      {
        step: 510,
        progress: {
          tracksDone: 75,
          bytesDone: 75 * 57_344,
          rateBytesPerSecond: 4 * 1024 ** 2,
          etaSeconds: 1,
        },
      },
      { state: "succeeded", step: 524, resultCode: "OK", progress: { tracksDone: 150 } },
    ]);
    const job = await followJob({ url: api.baseUrl, token: TOKEN }, "J000001", { output });
    expect(job.state).toBe("succeeded");
    expect(written).toEqual([
      "\rJ000001 508 establish pair [....................]  0%  0/150 tracks  0 B/8.2 MiB\x1b[K",
      "\rJ000001 510 transfer [##########..........]  50%  75/150 tracks  4.1 MiB/8.2 MiB  4.2 MB/s  ETA 1 s\x1b[K",
      "\rJ000001 524 report result [####################]  100%  150/150 tracks  4.1 MiB/8.2 MiB  4.2 MB/s  ETA 1 s\x1b[K\n",
    ]);
  });

  it("prints a plain line per step elsewhere, and progress at most every interval", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 510 }));
    const written: string[] = [];
    const output = { isTTY: false, write: (text: string) => written.push(text) };
    const script = runJobScript(api.jobs, "J000001", [
      { progress: { tracksDone: 10 } },
      { progress: { tracksDone: 20 } },
      { state: "failed", step: 522, resultCode: "GSC_TARGET_ERROR" },
    ]);
    const job = await followJob({ url: api.baseUrl, token: TOKEN }, "J000001", {
      output,
      plainIntervalMs: 60_000,
    });
    await script;
    expect(job.state).toBe("failed");
    expect(written).toEqual([
      "J000001 510 transfer [....................]  0%  0/150 tracks  0 B/8.2 MiB\n",
      "J000001 522 terminate pair [##..................]  13%  20/150 tracks  0 B/8.2 MiB\n",
    ]);
  });

  it("prints the job's end at step 524 once when its line says nothing new", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 522 }));
    const written: string[] = [];
    const output = { isTTY: false, write: (text: string) => written.push(text) };
    const script = runJobScript(api.jobs, "J000001", [
      { step: 524 },
      { state: "succeeded", step: 524, resultCode: "OK" },
    ]);
    const job = await followJob({ url: api.baseUrl, token: TOKEN }, "J000001", { output });
    await script;
    expect(job.state).toBe("succeeded");
    expect(written).toEqual([
      "J000001 522 terminate pair [....................]  0%  0/150 tracks  0 B/8.2 MiB\n",
      "J000001 524 report result [....................]  0%  0/150 tracks  0 B/8.2 MiB\n",
    ]);
  });

  it("looks at the job and reconnects when the stream closes before the job ended", async () => {
    const running = exampleJob("J000001", { state: "running", step: 510 });
    const ended: JobInfo = { ...running, state: "succeeded", step: 524, resultCode: "OK" };
    const requests: string[] = [];
    let streams = 0;
    // A server whose first stream is cut after one event, as a restart or a proxy would cut it.
    const server = http.createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      if (request.url === "/v1/jobs/J000001") {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify(running));
        return;
      }
      streams += 1;
      response.writeHead(200, { "content-type": "text/event-stream" });
      const job = streams === 1 ? running : ended;
      response.end(`: hello\n\nevent: job\ndata: ${JSON.stringify(job)}\n\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const written: string[] = [];
    const output = { isTTY: false, write: (text: string) => written.push(text) };
    try {
      const job = await followJob({ url: `http://127.0.0.1:${port}`, token: TOKEN }, "J000001", {
        output,
      });
      expect(job).toEqual(ended);
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(requests).toEqual([
      "GET /v1/jobs/J000001/events",
      "GET /v1/jobs/J000001",
      "GET /v1/jobs/J000001/events",
    ]);
    expect(written).toHaveLength(2);
  });

  it("fails with a clear error when an event is not JSON", async () => {
    const server = http.createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.end("event: job\ndata: {not json\n\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const output = { isTTY: false, write: () => {} };
    try {
      const following = followJob({ url: `http://127.0.0.1:${port}`, token: TOKEN }, "J000001", {
        output,
      });
      await expect(following).rejects.toMatchObject({
        code: "INTERNAL",
        message: expect.stringContaining('Cannot follow job "J000001"'),
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
