// The jobs file: a synced snapshot and a log of job changes, synced only where a crash must find
// them; what a start reads back from both, and what it refuses.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { codeOfAsync } from "../testing/error-code.js";
import { exampleJob } from "../testing/memory-jobs.js";
import type { GscPlan } from "./gsc-plan.js";
import { JOB_FILE_NAME, JOB_LOG_NAME, JobFile, LAZY_SAVE_MS, MAX_LOG_BYTES } from "./job-file.js";
import type { JobRecord } from "./job-record.js";

const PLAN: GscPlan = {
  source: { volser: "VOL001", ssid: "01A0", extents: "0.0-9.14" },
  intermediate: { volser: "#P0001", auto: true },
  target: { serial: "GS0002", ssid: "01B0", volser: "VOL900", extents: "0.0-9.14" },
  pairGeometry: { cylinders: 10, trackSizeBytes: 57_344 },
  tracks: 150,
  trackSizeBytes: 57_344,
};

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-job-file-"));
  dirs.push(dir);
  return dir;
}

function record(id: string, fields: Partial<JobRecord["info"]> = {}): JobRecord {
  return { info: exampleJob(id, fields), plan: PLAN, cleanupPending: false };
}

/** Opens the file over `jobs`, the records a snapshot takes. */
async function open(dataDir: string, jobs: JobRecord[] = [], warnings: string[] = []) {
  return JobFile.open({
    dataDir,
    records: () => jobs,
    logger: { warn: (_obj, msg) => warnings.push(msg) },
  });
}

function logLines(dataDir: string): { saved: number; job: JobRecord }[] {
  const text = fs.readFileSync(path.join(dataDir, JOB_LOG_NAME), "utf8");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

describe("job file", () => {
  it("syncs a job's line when saved durably, and writes lazy changes unsynced within LAZY_SAVE_MS, one line a job", async () => {
    const dataDir = tempDir();
    const job = record("J000001");
    const file = await open(dataDir, [job]);
    await file.compact();
    expect(file.syncs).toBe(2);
    await file.saveDurably(job);
    expect(file.syncs).toBe(3);
    expect(logLines(dataDir).map((line) => line.job.info.state)).toEqual(["queued"]);

    job.info = { ...job.info, state: "running", step: 508 };
    file.saveSoon(job);
    job.info = { ...job.info, step: 510 };
    file.saveSoon(job);
    expect(logLines(dataDir)).toHaveLength(1);
    // The two lazy saves land as one line once the lazy save runs.
    await vi.waitFor(() => expect(logLines(dataDir)).toHaveLength(2), {
      timeout: LAZY_SAVE_MS + 5_000,
    });
    const lines = logLines(dataDir);
    expect(lines.map((line) => line.job.info.step)).toEqual([500, 510]);
    expect(lines[1].saved).toBeGreaterThan(lines[0].saved);
    expect(file.syncs).toBe(3);
    await file.close();
  });

  it("reads the snapshot, then the log's lines past it, each replacing its job", async () => {
    const dataDir = tempDir();
    const first = record("J000001");
    const second = record("J000002");
    const jobs = [first];
    const file = await open(dataDir, jobs);
    await file.compact();
    await file.saveDurably(first);
    jobs.push(second);
    await file.saveDurably(second);
    first.info = { ...first.info, state: "succeeded", step: 524 };
    await file.saveDurably(first);
    await file.close();

    const again = await open(dataDir);
    expect(again.loaded.map((job) => [job.info.id, job.info.state])).toEqual([
      ["J000001", "succeeded"],
      ["J000002", "queued"],
    ]);
    await again.close();
  });

  it("skips log lines a snapshot already holds: a crash between the snapshot and the log's emptying", async () => {
    const dataDir = tempDir();
    const job = record("J000001", { state: "running", step: 510 });
    const file = await open(dataDir, [job]);
    await file.saveDurably(job);
    const staleLog = fs.readFileSync(path.join(dataDir, JOB_LOG_NAME));
    job.info = { ...job.info, state: "failed", step: 524 };
    await file.compact();
    await file.close();
    // The log as it was before the snapshot, as if emptying it never reached the disk.
    fs.writeFileSync(path.join(dataDir, JOB_LOG_NAME), staleLog);

    const again = await open(dataDir);
    expect(again.loaded.map((loaded) => loaded.info.state)).toEqual(["failed"]);
    await again.close();
  });

  it("stops reading the log at a line that does not read whole: the unsynced end a power loss cut", async () => {
    const dataDir = tempDir();
    const job = record("J000001");
    const file = await open(dataDir, [job]);
    await file.saveDurably(job);
    await file.close();
    const log = path.join(dataDir, JOB_LOG_NAME);
    const whole = JSON.stringify({ saved: 99, job: record("J000003") });
    fs.appendFileSync(log, `{"saved": 7, "job": {"info": {"id": "J0000\n${whole}\n`);

    const warnings: string[] = [];
    const again = await open(dataDir, [], warnings);
    // J000003 comes after the torn line: it is not trusted either.
    expect(again.loaded.map((loaded) => loaded.info.id)).toEqual(["J000001"]);
    expect(warnings.join()).toMatch(/cut/);
    await again.close();
  });

  it("folds a log past MAX_LOG_BYTES into a new snapshot and empties it", async () => {
    const dataDir = tempDir();
    const job = record("J000001");
    const note = "x".repeat(512 * 1024);
    const file = await open(dataDir, [job]);
    const logBytes = () => fs.statSync(path.join(dataDir, JOB_LOG_NAME)).size;
    job.info = { ...job.info, steps: [{ step: 502, name: "verify", startedAt: "t", note }] };
    await file.saveDurably(job);
    const lineBytes = logBytes();
    let saves = 1;
    while (logBytes() > 0 && saves < 20) {
      await file.saveDurably(job);
      saves += 1;
    }
    // Folded by the first save that took the log past the bound, not before.
    expect(saves).toBe(Math.floor(MAX_LOG_BYTES / lineBytes) + 1);
    const snapshot = JSON.parse(fs.readFileSync(path.join(dataDir, JOB_FILE_NAME), "utf8"));
    expect(snapshot.jobs[0].info.steps[0].note).toBe(note);
    await file.close();
  });

  it("refuses a snapshot that is not a jobs file, or holds a job that does not read, with STORE_FORMAT", async () => {
    const dataDir = tempDir();
    const snapshot = path.join(dataDir, JOB_FILE_NAME);
    const refused = async (content: unknown) => {
      fs.writeFileSync(snapshot, JSON.stringify(content));
      return codeOfAsync(() => open(dataDir));
    };
    const good = record("J000001");
    expect(await refused({ format: 2, jobs: [] })).toBe("STORE_FORMAT");
    expect(await refused({ format: 1, saved: -1, jobs: [] })).toBe("STORE_FORMAT");
    expect(await refused({ format: 1, jobs: {} })).toBe("STORE_FORMAT");
    expect(await refused({ format: 1, jobs: [{ ...good, cleanupPending: "no" }] })).toBe(
      "STORE_FORMAT",
    );
    expect(
      await refused({ format: 1, jobs: [{ ...good, info: { ...good.info, state: "done" } }] }),
    ).toBe("STORE_FORMAT");
    expect(
      await refused({ format: 1, jobs: [{ ...good, plan: { ...PLAN, intermediate: "*" } }] }),
    ).toBe("STORE_FORMAT");
    fs.writeFileSync(snapshot, "not json");
    expect(await codeOfAsync(() => open(dataDir))).toBe("STORE_FORMAT");
    // A file from before the write count: read as count 0.
    expect(await refused({ format: 1, jobs: [good] })).toBeUndefined();
  });

  it("fails with IO_ERROR when the log cannot be read or the file is closed", async () => {
    const dataDir = tempDir();
    fs.mkdirSync(path.join(dataDir, JOB_LOG_NAME));
    expect(await codeOfAsync(() => open(dataDir))).toBe("IO_ERROR");
    fs.rmdirSync(path.join(dataDir, JOB_LOG_NAME));
    const file = await open(dataDir);
    await file.close();
    expect(await codeOfAsync(() => file.saveDurably(record("J000001")))).toBe("IO_ERROR");
  });
});
