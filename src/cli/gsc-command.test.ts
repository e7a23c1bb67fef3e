// `gsnap gsc` in process against a real API over HTTP (MemoryJobs behind it).

import { afterEach, describe, expect, it, vi } from "vitest";
import { ERROR_CODES } from "../errors/codes.js";
import { runGsnap, startApi, stopApis } from "../testing/api-harness.js";
import { codeOf } from "../testing/error-code.js";
import { runJobScript } from "../testing/job-script.js";
import type { JobChange } from "../testing/memory-jobs.js";
import { gscRequestOf } from "./gsc-command.js";

afterEach(async () => {
  vi.restoreAllMocks();
  await stopApis();
});

const TEXT = "VOL001:0.0-9.14, *, GS0002.01B0.VOL900";

/** A job that runs its steps and succeeds. */
const SUCCESS: JobChange[] = [
  { step: 502 },
  { step: 506 },
  { step: 508 },
  { step: 510, progress: { tracksDone: 50, bytesDone: 50 * 57_344, etaSeconds: 2 } },
  { progress: { tracksDone: 150, bytesDone: 150 * 57_344, etaSeconds: 0 } },
  { step: 522 },
  { state: "succeeded", step: 524, resultCode: "OK" },
];

describe("gscRequestOf", () => {
  it("reads the positional text or the flags, with the bandwidth and the notify URL", () => {
    const expected = {
      source: "VOL001:0.0-9.14",
      intermediate: "*",
      target: "1.01A0.VOL900:5.0-14.14",
      targetIntermediate: "S00001",
      bandwidthMBps: 250,
      notifyUrl: "https://ops.example.com/x",
    };
    const extra = { bandwidth: "250", notify: "https://ops.example.com/x" };
    expect(gscRequestOf("VOL001:0.0-9.14, *, 1.01A0.VOL900:5.0-14.14, S00001", extra)).toEqual(
      expected,
    );
    expect(
      gscRequestOf(undefined, {
        ...extra,
        source: "VOL001:0.0-9.14",
        intermediate: "*",
        target: "1.01A0.VOL900:5.0-14.14",
        targetIntermediate: "S00001",
      }),
    ).toEqual(expected);
  });

  it.each([
    ["text and flags", TEXT, { source: "VOL001:0.0-9.14" }, "REQUEST_INVALID"],
    ["neither", undefined, {}, "GSC_REQUEST_MALFORMED"],
    [
      "flags without --target",
      undefined,
      { source: "A:0.0-0.1", intermediate: "*" },
      "GSC_REQUEST_MALFORMED",
    ],
    ["two parameters", "VOL001:0.0-9.14, *", {}, "GSC_REQUEST_MALFORMED"],
    ["a bandwidth that is no number", TEXT, { bandwidth: "fast" }, "REQUEST_INVALID"],
    ["an empty bandwidth", TEXT, { bandwidth: " " }, "REQUEST_INVALID"],
  ])("refuses %s", (_name, text, options, code) => {
    expect(codeOf(() => gscRequestOf(text, options))).toBe(code);
  });
});

describe("gsnap gsc", () => {
  it("starts a job and prints its id, or the job as JSON", async () => {
    const api = await startApi();
    const result = await runGsnap(api, "gsc", TEXT);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("J000001\n");
    const json = await runGsnap(api, "gsc", "--json", "--bandwidth", "100", TEXT);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(api.jobs.show("J000002"));
    expect(api.jobs.show("J000002").request).toEqual({
      source: "VOL001:0.0-9.14",
      intermediate: "*",
      target: "GS0002.01B0.VOL900",
      bandwidthMBps: 100,
    });
  });

  it("refuses a bandwidth below the smallest cap with REQUEST_INVALID naming it, starting no job", async () => {
    const api = await startApi();
    const result = await runGsnap(api, "gsc", TEXT, "--bandwidth", "0.0000001");
    expect(result.code).toBe(ERROR_CODES.REQUEST_INVALID.exitCode);
    expect(result.stderr).toMatch(
      /^gsnap: REQUEST_INVALID: Cannot .*bandwidth 1e-7 MB\/s is not a number from 0\.1 to 100000/,
    );
    expect(api.jobs.list()).toEqual([]);
  });

  it("starts a job from the flags", async () => {
    const api = await startApi();
    const result = await runGsnap(
      api,
      ...["gsc", "--source", "VOL001:0.0-9.14", "--intermediate", "P00001"],
      ...["--target", "GS0002.01B0.VOL900:20.0-29.14", "--target-intermediate", "*"],
      ...["--notify", "http://127.0.0.1:9/done"],
    );
    expect(result.code, result.stderr).toBe(0);
    expect(api.jobs.show("J000001").request).toEqual({
      source: "VOL001:0.0-9.14",
      intermediate: "P00001",
      target: "GS0002.01B0.VOL900:20.0-29.14",
      targetIntermediate: "*",
      notifyUrl: "http://127.0.0.1:9/done",
    });
  });

  it("follows the job with --wait, printing plain lines per step, and prints the step timings", async () => {
    const api = await startApi();
    const script = runJobScript(api.jobs, "J000001", SUCCESS);
    const result = await runGsnap(api, "gsc", TEXT, "--wait");
    await script;
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(
      "J000001 500 receive [....................]  0%  0/150 tracks  0 B/8.2 MiB",
    );
    expect(lines).toContain(
      "J000001 510 transfer [######..............]  33%  50/150 tracks  2.7 MiB/8.2 MiB  ETA 2 s",
    );
    expect(lines.at(-1)).toBe(
      "J000001 524 report result [####################]  100%  150/150 tracks  8.2 MiB/8.2 MiB  ETA 0 s",
    );
    // One line per step: the progress within the transfer step came too fast for another line.
    expect(lines).toHaveLength(7);
    expect(result.stdout).toMatch(/^Job J000001 succeeded \(OK\)\nSTEP\s+NAME\s+DURATION\n/);
    expect(result.stdout).toMatch(/^510\s+transfer\s+\d+ ms$/m);
    expect(result.stdout).toMatch(/^524\s+report result\s+\d+ ms$/m);
  });

  it("fails --wait with the job's result code and message when the job fails", async () => {
    const api = await startApi();
    const script = runJobScript(api.jobs, "J000001", [
      { step: 502 },
      { step: 510 },
      {
        state: "failed",
        step: 522,
        resultCode: "GSC_TRANSFER_FAILED",
        resultMessage: "Cannot copy to GS0002.01B0.VOL900: the path went down",
      },
    ]);
    const result = await runGsnap(api, "gsc", TEXT, "--wait", "--json");
    await script;
    expect(result.code).toBe(ERROR_CODES.GSC_TRANSFER_FAILED.exitCode);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: "failed", step: 522 });
    expect(result.stderr.trimEnd().split("\n").at(-1)).toBe(
      JSON.stringify({
        code: "GSC_TRANSFER_FAILED",
        message:
          "GSC job J000001 failed at step 522 terminate pair: " +
          "Cannot copy to GS0002.01B0.VOL900: the path went down",
      }),
    );
  });

  it.each([
    [["gsc", TEXT, "--source", "VOL001:0.0-9.14"], "REQUEST_INVALID"],
    [["gsc"], "GSC_REQUEST_MALFORMED"],
    [["gsc", "VOL001:0.0-9.14, *"], "GSC_REQUEST_MALFORMED"],
    [
      ["gsc", "VOL001:0.0-9.14, *, GS0002.01B0.VOL900:0.0-9.14"],
      "GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE",
    ],
    [["gsc", TEXT, "--bandwidth", "0"], "REQUEST_INVALID"],
    [["gsc", TEXT, "--bandwidth", "lots"], "REQUEST_INVALID"],
    [["gsc", TEXT, "--notify", "ops@example.com"], "REQUEST_INVALID"],
  ] as const)("exits with the code of %j: %s", async (args, code) => {
    const api = await startApi();
    const result = await runGsnap(api, ...args);
    expect(result.code, result.stderr).toBe(ERROR_CODES[code].exitCode);
    expect(result.stderr).toMatch(new RegExp(`^gsnap: ${code}: Cannot `));
    expect(api.jobs.list()).toEqual([]);
  });

  it("shows the form and examples in `gsnap gsc --help`", async () => {
    const api = await startApi({ seeded: false });
    const result = await runGsnap(api, "gsc", "--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--target-intermediate <S'>/);
    expect(result.stdout).toMatch(/--json/);
    expect(result.stdout).toMatch(/\nExamples:\n {2}gsnap gsc "VOL001:0\.0-99\.14, \*, /);
  });
});
