import { Agent, fetch as undiciFetch } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { JobInfo } from "../gsc/job-service.js";
import { type ApiUnderTest, startApi, stopApis, TOKEN } from "../testing/api-harness.js";
import { exampleJob } from "../testing/memory-jobs.js";

afterEach(stopApis);

const GSC = { source: "VOL001:0.0-9.14", intermediate: "*", target: "GS0002.01B0.VOL900" };

/** Reads server-sent events from `response` as they come: each `event: job` parsed. */
async function* jobEvents(response: Response): AsyncGenerator<JobInfo> {
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (reader === undefined) throw new Error("the event stream has no body");
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end = buffered.indexOf("\n\n");
    while (end >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const lines = event.split("\n");
      if (lines[0] === "event: job") yield JSON.parse(lines[1].slice("data: ".length));
      end = buffered.indexOf("\n\n");
    }
  }
}

async function follow(api: ApiUnderTest, id: string): Promise<Response> {
  return fetch(`${api.baseUrl}/v1/jobs/${id}/events`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
}

describe("job routes", () => {
  it("start a GSC with 202 as a queued job, then list and show it", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/gsc", { json: { ...GSC, bandwidthMBps: 100 } });
    expect(reply.status, reply.text).toBe(202);
    expect(reply.body).toMatchObject({
      id: "J000001",
      request: { ...GSC, bandwidthMBps: 100 },
      state: "queued",
      step: 500,
      steps: [],
      progress: { tracksTotal: 150, tracksDone: 0, bytesDone: 0, etaSeconds: null },
    });
    expect(reply.body.resultCode).toBeUndefined();
    const second = await api.call("POST", "/v1/gsc", { json: GSC });
    expect(second.body.id).toBe("J000002");
    const list = await api.call("GET", "/v1/jobs");
    expect(list.body.map((job: JobInfo) => job.id)).toEqual(["J000002", "J000001"]);
    expect((await api.call("GET", "/v1/jobs/J000001")).body).toEqual(reply.body);
  });

  it("show a job's steps with their timings and its result", async () => {
    const api = await startApi();
    await api.call("POST", "/v1/gsc", { json: GSC });
    api.jobs.advance("J000001", { step: 502 });
    api.jobs.advance("J000001", { step: 506, note: "snapped 150 tracks into #P0001" });
    api.jobs.advance("J000001", { state: "succeeded", step: 524, resultCode: "OK" });
    const reply = await api.call("GET", "/v1/jobs/J000001");
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toMatchObject({ state: "succeeded", step: 524, resultCode: "OK" });
    expect(reply.body.endedAt).toEqual(expect.any(String));
    expect(reply.body.steps).toEqual([
      { step: 502, name: "verify", startedAt: expect.any(String), endedAt: expect.any(String) },
      {
        step: 506,
        name: "snap source to intermediate",
        startedAt: expect.any(String),
        endedAt: expect.any(String),
        note: "snapped 150 tracks into #P0001",
      },
      {
        step: 524,
        name: "report result",
        startedAt: expect.any(String),
        endedAt: expect.any(String),
      },
    ]);
  });

  it("cancel a running job, then refuse to cancel it again with 409 JOB_STATE_INVALID", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 510 }));
    const reply = await api.call("POST", "/v1/jobs/J000001/cancel");
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toMatchObject({ state: "cancelled", resultCode: "GSC_CANCELLED" });
    const again = await api.call("POST", "/v1/jobs/J000001/cancel");
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      code: "JOB_STATE_INVALID",
      message: 'Cannot cancel job "J000001": it has already been cancelled',
    });
  });

  it("refuse a body on cancel with REQUEST_INVALID", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001"));
    const reply = await api.call("POST", "/v1/jobs/J000001/cancel", { json: { force: true } });
    expect(reply.status).toBe(400);
    expect(reply.body.message).toMatch(/^Cannot cancel a job: this route takes no body/);
    expect(api.jobs.show("J000001").state).toBe("queued");
  });

  it("answer a wait once the job ends", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running" }));
    setTimeout(
      () => api.jobs.advance("J000001", { state: "failed", resultCode: "GSC_TRANSFER_FAILED" }),
      50,
    );
    const reply = await api.call("GET", "/v1/jobs/J000001/wait?timeoutSeconds=10");
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toMatchObject({ state: "failed", resultCode: "GSC_TRANSFER_FAILED" });
    expect(api.jobs.watcherCount("J000001")).toBe(0);
  });

  it("answer a wait with the running job when its timeout runs out", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running" }));
    const started = Date.now();
    const reply = await api.call("GET", "/v1/jobs/J000001/wait?timeoutSeconds=1");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.state).toBe("running");
    expect(api.jobs.watcherCount("J000001")).toBe(0);
  });

  it.each([
    ["timeoutSeconds=301", /timeoutSeconds 301 is more than 300/],
    ["timeoutSeconds=-1", /timeoutSeconds/],
    ["timeoutSeconds=soon", /timeoutSeconds/],
    ["timeout=5", /timeout/],
  ])("refuse a wait with %s with 400 REQUEST_INVALID", async (query, message) => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001"));
    const reply = await api.call("GET", `/v1/jobs/J000001/wait?${query}`);
    expect(reply.status, reply.text).toBe(400);
    expect(reply.body.code).toBe("REQUEST_INVALID");
    expect(reply.body.message).toMatch(message);
  });

  it("stream a job's changes as server-sent events until it ends", async () => {
    const api = await startApi();
    await api.call("POST", "/v1/gsc", { json: GSC });
    const response = await follow(api, "J000001");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const moves = [
      () => api.jobs.advance("J000001", { step: 502 }),
      () => api.jobs.advance("J000001", { step: 510, progress: { tracksDone: 75 } }),
      () => api.jobs.advance("J000001", { state: "succeeded", step: 524, resultCode: "OK" }),
    ];
    const seen: Partial<JobInfo>[] = [];
    for await (const job of jobEvents(response)) {
      seen.push({ state: job.state, step: job.step });
      moves.shift()?.();
    }
    expect(seen).toEqual([
      { state: "queued", step: 500 },
      { state: "running", step: 502 },
      { state: "running", step: 510 },
      { state: "succeeded", step: 524 },
    ]);
    expect(api.jobs.watcherCount("J000001")).toBe(0);
  });

  it("stream one event and end for a job that has ended", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "failed", resultCode: "GSC_TARGET_ERROR" }));
    const events: JobInfo[] = [];
    for await (const job of jobEvents(await follow(api, "J000001"))) events.push(job);
    expect(events).toEqual([api.jobs.show("J000001")]);
  });

  it("stop watching when the client of a stream goes away", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running" }));
    // An agent of its own, destroyed at the end: Node's shared one keeps a spare connection open
    // for seconds, which would hold up closing the API.
    const agent = new Agent();
    const controller = new AbortController();
    const response = await undiciFetch(`${api.baseUrl}/v1/jobs/J000001/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: controller.signal,
      dispatcher: agent,
    });
    const first = await jobEvents(response as unknown as Response).next();
    expect(first.value).toMatchObject({ state: "running" });
    expect(api.jobs.watcherCount("J000001")).toBe(1);
    controller.abort();
    await expect.poll(() => api.jobs.watcherCount("J000001")).toBe(0);
    await agent.destroy();
  });

  it.each([
    [{ ...GSC, source: "VOL001" }, 400, "GSC_REQUEST_MALFORMED"],
    [{ ...GSC, intermediate: "VOL001" }, 400, "GSC_REQUEST_MALFORMED"],
    [
      { ...GSC, target: "GS0002.01B0.VOL900:0.0-9.14" },
      400,
      "GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE",
    ],
    [
      { ...GSC, target: "GS0002.01B0.VOL900:0.0-8.14", targetIntermediate: "*" },
      400,
      "EXTENT_SIZE_MISMATCH",
    ],
    [{ ...GSC, source: "VOL001:0.0-9.14+5.0-5.1" }, 400, "EXTENTS_OVERLAP"],
    [{ ...GSC, intermediate: "tmp" }, 400, "VOLSER_INVALID"],
    [{ ...GSC, target: "GS0002.1B0.VOL900" }, 400, "SSID_INVALID"],
    [{ ...GSC, bandwidthMBps: 0 }, 400, "REQUEST_INVALID"],
    [{ ...GSC, bandwidthMBps: "100" }, 400, "REQUEST_INVALID"],
    [{ ...GSC, notifyUrl: "mailto:ops@example.com" }, 400, "REQUEST_INVALID"],
    [{ ...GSC, extra: 1 }, 400, "REQUEST_INVALID"],
    [{ source: GSC.source, target: GSC.target }, 400, "REQUEST_INVALID"],
  ])("refuse starting %j with %i %s", async (json, status, code) => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/gsc", { json });
    expect(reply.status, reply.text).toBe(status);
    expect(reply.body.code).toBe(code);
    expect(reply.body.message).toMatch(/^Cannot /);
    expect(api.jobs.list()).toEqual([]);
  });

  it.each([
    ["GET", "/v1/jobs/J000009"],
    ["POST", "/v1/jobs/J000009/cancel"],
    ["GET", "/v1/jobs/J000009/wait"],
    ["GET", "/v1/jobs/J000009/events"],
  ])("refuse %s %s of an unknown job with 404 JOB_NOT_FOUND", async (method, path) => {
    const api = await startApi();
    const reply = await api.call(method, path);
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({
      code: "JOB_NOT_FOUND",
      message: 'Cannot find job "J000009": there is no job with that id',
    });
  });

  it("answer PATHS_UNAVAILABLE when the API has no jobs", async () => {
    const api = await startApi({ withoutPaths: true });
    for (const [method, path, json] of [
      ["POST", "/v1/gsc", GSC],
      ["GET", "/v1/jobs", undefined],
      ["GET", "/v1/jobs/J000001", undefined],
      ["POST", "/v1/jobs/J000001/cancel", undefined],
      ["GET", "/v1/jobs/J000001/wait", undefined],
      ["GET", "/v1/jobs/J000001/events", undefined],
    ] as const) {
      const reply = await api.call(method, path, { json });
      expect(reply.status).toBe(503);
      expect(reply.body.code).toBe("PATHS_UNAVAILABLE");
      expect(reply.body.message).toMatch(
        /^Cannot .+: this API was started without global snap copy jobs$/,
      );
    }
  });

  it("describe the job routes and their schemas in /openapi.json under the jobs tag", async () => {
    const api = await startApi();
    const { paths, tags } = (await api.call("GET", "/openapi.json")).body;
    expect(tags).toContainEqual(expect.objectContaining({ name: "jobs" }));
    const gsc = paths["/v1/gsc"].post;
    expect(gsc.tags).toEqual(["jobs"]);
    const body = gsc.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["source", "intermediate", "target"]);
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(gsc.responses)).toContain("202");
    const job = paths["/v1/jobs/{id}"].get.responses["200"].content["application/json"].schema;
    expect(job.properties.state.enum).toEqual([
      "queued",
      "running",
      "succeeded",
      "failed",
      "cancelled",
    ]);
    expect(paths["/v1/jobs/{id}/wait"].get.parameters).toContainEqual(
      expect.objectContaining({ name: "timeoutSeconds", in: "query" }),
    );
    expect(Object.keys(paths["/v1/jobs/{id}/events"].get.responses["200"].content)).toEqual([
      "text/event-stream",
    ]);
  });
});
