import { afterEach, describe, expect, it } from "vitest";
import { silentLinkLogger } from "../link/link-logger.js";
import { AutoResume, resumesByItself } from "./auto-resume.js";
import type { PairRecord } from "./pair-file.js";

const BASE: PairRecord = {
  volser: "VOL001",
  role: "primary",
  primary: "0000000001.01A0.VOL001",
  secondary: "0000000002.01B0.VOL001",
  mode: "sync",
  critical: false,
  state: "suspended",
  reason: "link failure",
  since: "2026-12-05T00:00:00.000Z",
  tracksTotal: 150,
};

const waitMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("resumesByItself", () => {
  it("takes a primary suspended by a restart or a link failure, and nothing else", () => {
    expect(resumesByItself(BASE)).toBe(true);
    expect(resumesByItself({ ...BASE, reason: "primary restart" })).toBe(true);
    expect(resumesByItself({ ...BASE, reason: "operator" })).toBe(false);
    expect(resumesByItself({ ...BASE, reason: "secondary error" })).toBe(false);
    expect(resumesByItself({ ...BASE, state: "duplex", reason: undefined })).toBe(false);
    expect(resumesByItself({ ...BASE, role: "secondary" })).toBe(false);
    // A GSC job's pair is the job's to drive.
    expect(resumesByItself({ ...BASE, job: "J000001" })).toBe(false);
  });
});

describe("AutoResume", () => {
  let auto: AutoResume | undefined;
  afterEach(() => auto?.close());

  it("resumes a pair once its path is reachable, and only then", async () => {
    let record: PairRecord = BASE;
    let reachable = false;
    const resumed: string[] = [];
    auto = new AutoResume({
      records: () => [record],
      reachable: () => reachable,
      resume: async (volser) => {
        resumed.push(volser);
        record = { ...record, state: "pending", reason: undefined };
      },
      logger: silentLinkLogger,
      intervalMs: 10,
    });
    await waitMs(60);
    expect(resumed).toEqual([]);
    reachable = true;
    await waitMs(60);
    expect(resumed).toEqual(["VOL001"]);
  });

  it("waits longer after each failed resume", async () => {
    const attempts: number[] = [];
    auto = new AutoResume({
      records: () => [BASE],
      reachable: () => true,
      resume: async () => {
        attempts.push(performance.now());
        throw new Error("the secondary no longer has the pair");
      },
      logger: silentLinkLogger,
      intervalMs: 10,
    });
    await waitMs(3_500);
    // Waits of 1 s then 2 s after the first try: three tries, not one every 10 ms.
    expect(attempts.length).toBe(3);
    expect(attempts[2] - attempts[1]).toBeGreaterThan(attempts[1] - attempts[0]);
  });

  it("leaves an operator's suspension alone", async () => {
    const resumed: string[] = [];
    auto = new AutoResume({
      records: () => [{ ...BASE, reason: "operator" }],
      reachable: () => true,
      resume: async (volser) => {
        resumed.push(volser);
      },
      logger: silentLinkLogger,
      intervalMs: 10,
    });
    await waitMs(60);
    expect(resumed).toEqual([]);
  });
});
