// `gsnap job` in process against a real API over HTTP (MemoryJobs behind it).

import { afterEach, describe, expect, it, vi } from "vitest";
import { ERROR_CODES } from "../errors/codes.js";
import { runGsnap, startApi, stopApis } from "../testing/api-harness.js";
import { runJobScript } from "../testing/job-script.js";
import { exampleJob } from "../testing/memory-jobs.js";

afterEach(async () => {
  vi.restoreAllMocks();
  await stopApis();
});

const STEPS = [
  {
    step: 502 as const,
    name: "verify",
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:00:00.250Z",
  },
  {
    step: 510 as const,
    name: "transfer",
    startedAt: "2026-01-01T00:00:00.250Z",
    endedAt: "2026-01-01T00:04:05.250Z",
    note: "sent 150 tracks",
  },
  { step: 522 as const, name: "terminate pair", startedAt: "2026-01-01T00:04:05.250Z" },
];

describe("gsnap job", () => {
  it("lists jobs newest first as a table, and as JSON", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "succeeded", step: 524, resultCode: "OK" }));
    api.jobs.setJob(
      exampleJob("J000002", {
        state: "running",
        step: 510,
        progress: { ...exampleJob("J").progress, tracksDone: 1_500, tracksTotal: 15_000 },
      }),
    );
    const result = await runGsnap(api, "job", "list");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      expect.stringMatching(/^ID\s+STATE\s+STEP\s+DONE\s+SOURCE\s+TARGET\s+RESULT$/),
      expect.stringMatching(
        /^J000002\s+running\s+510 transfer\s+1,500\/15,000 tracks\s+VOL001:0\.0-9\.14\s+GS0002\.01B0\.VOL900\s+-$/,
      ),
      expect.stringMatching(/^J000001\s+succeeded\s+524 report result\s+0\/150 tracks\s+.+\s+OK$/),
      "",
    ]);
    const json = await runGsnap(api, "job", "list", "--json");
    expect(JSON.parse(json.stdout)).toEqual(api.jobs.list());
  });

  it("shows a job with its progress, its step timings and its result", async () => {
    const api = await startApi();
    api.jobs.setJob(
      exampleJob("J000001", {
        state: "running",
        step: 522,
        steps: STEPS,
        request: { ...exampleJob("J").request, targetIntermediate: "S00001" },
      }),
    );
    const result = await runGsnap(api, "job", "show", "J000001");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Job:\s+J000001$/m);
    expect(result.stdout).toMatch(
      /^Request:\s+VOL001:0\.0-9\.14, \*, GS0002\.01B0\.VOL900, S00001$/m,
    );
    expect(result.stdout).toMatch(/^State:\s+running$/m);
    expect(result.stdout).toMatch(/^Step:\s+522 terminate pair$/m);
    expect(result.stdout).toMatch(/^Tracks:\s+0 of 150$/m);
    expect(result.stdout).toMatch(/^Result:\s+-$/m);
    expect(result.stdout).toMatch(/^STEP\s+NAME\s+DURATION\s+NOTE$/m);
    expect(result.stdout).toMatch(/^502\s+verify\s+250 ms\s+-$/m);
    expect(result.stdout).toMatch(/^510\s+transfer\s+4 min 05 s\s+sent 150 tracks$/m);
    expect(result.stdout).toMatch(/^522\s+terminate pair\s+running\s+-$/m);
    const json = await runGsnap(api, "job", "show", "J000001", "--json");
    expect(JSON.parse(json.stdout)).toEqual(api.jobs.show("J000001"));
  });

  it("cancels a job, then refuses to cancel it again with JOB_STATE_INVALID", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 510 }));
    const result = await runGsnap(api, "job", "cancel", "J000001");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("Cancelled job J000001 at step 510\n");
    expect(api.jobs.show("J000001").state).toBe("cancelled");
    const again = await runGsnap(api, "job", "cancel", "J000001", "--json");
    expect(again.code).toBe(ERROR_CODES.JOB_STATE_INVALID.exitCode);
    expect(JSON.parse(again.stderr)).toEqual({
      code: "JOB_STATE_INVALID",
      message: 'Cannot cancel job "J000001": it has already been cancelled',
    });
  });

  it("waits for a job to end and exits 0 when it succeeded", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 510 }));
    const script = runJobScript(api.jobs, "J000001", [
      { progress: { tracksDone: 100 } },
      { state: "succeeded", step: 524, resultCode: "OK" },
    ]);
    const result = await runGsnap(api, "job", "wait", "J000001", "--json");
    await script;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(api.jobs.show("J000001"));
  });

  it("waits for a cancelled job and exits with GSC_CANCELLED", async () => {
    const api = await startApi();
    api.jobs.setJob(exampleJob("J000001", { state: "running", step: 510 }));
    const script = runJobScript(api.jobs, "J000001", [
      { state: "cancelled", resultCode: "GSC_CANCELLED", resultMessage: "cancelled by ops" },
    ]);
    const result = await runGsnap(api, "job", "wait", "J000001");
    await script;
    expect(result.code).toBe(ERROR_CODES.GSC_CANCELLED.exitCode);
    expect(result.stdout).toMatch(/^Job J000001 cancelled \(GSC_CANCELLED\)\n/);
    expect(result.stderr).toMatch(
      /gsnap: GSC_CANCELLED: GSC job J000001 cancelled at step 510 transfer: cancelled by ops\n$/,
    );
  });

  it.each([
    "GSC_INTERMEDIATE_TOO_SMALL",
    "GSC_VOLUME_BUSY",
    "GSC_TRANSFER_FAILED",
    "GSC_TARGET_ERROR",
    "GSC_VERIFY_MISMATCH",
  ] as const)("exits with the exit code of a job that failed with %s", async (code) => {
    const api = await startApi();
    api.jobs.setJob(
      exampleJob("J000001", {
        state: "failed",
        step: 502,
        resultCode: code,
        resultMessage: "Cannot copy VOL001:0.0-9.14 to GS0002.01B0.VOL900: it went wrong",
      }),
    );
    const result = await runGsnap(api, "job", "wait", "J000001");
    expect(result.code).toBe(ERROR_CODES[code].exitCode);
    expect(result.stdout).toBe(`Job J000001 failed (${code})\n`);
    expect(result.stderr.split("\n").at(-2)).toBe(
      `gsnap: ${code}: GSC job J000001 failed at step 502 verify: ` +
        "Cannot copy VOL001:0.0-9.14 to GS0002.01B0.VOL900: it went wrong",
    );
  });

  it.each([
    ["show", "J000009"],
    ["wait", "J000009"],
    ["cancel", "J000009"],
  ])("exits with JOB_NOT_FOUND from `gsnap job %s` of an unknown job", async (name, id) => {
    const api = await startApi();
    const result = await runGsnap(api, "job", name, id);
    expect(result.code).toBe(ERROR_CODES.JOB_NOT_FOUND.exitCode);
    expect(result.stderr).toBe(
      'gsnap: JOB_NOT_FOUND: Cannot find job "J000009": there is no job with that id\n',
    );
  });

  it.each(["list", "show", "wait", "cancel"])(
    "shows examples in `gsnap job %s --help`",
    async (name) => {
      const api = await startApi({ seeded: false });
      const result = await runGsnap(api, "job", name, "--help");
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/--json/);
      expect(result.stdout).toMatch(new RegExp(`\\nExamples?:\\n {2}gsnap job ${name}\\b`));
    },
  );
});
