// `gsnap pair` in process against a real API over HTTP (MemoryPairs behind it). The end-to-end
// test with two real servers lives in test/.

import { afterEach, describe, expect, it, vi } from "vitest";
import { ERROR_CODES } from "../errors/codes.js";
import { type ApiUnderTest, runGsnap, startApi, stopApis } from "../testing/api-harness.js";
import { examplePair } from "../testing/memory-pairs.js";

afterEach(async () => {
  vi.restoreAllMocks();
  await stopApis();
});

/** Moves the pair of `volser` on to `fields` after `delayMs`, as a copy would. */
function later(api: ApiUnderTest, volser: string, fields: object, delayMs: number): void {
  setTimeout(() => api.pairs.setPair({ ...api.pairs.show(volser), ...fields }), delayMs);
}

describe("gsnap pair", () => {
  it("establishes a pair and shows it as a table", async () => {
    const api = await startApi();
    const result = await runGsnap(
      api,
      "pair",
      "establish",
      "VOL001",
      "GS0002.01B0.VOL900",
      "--mode",
      "sync",
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^VOLSER\s+ROLE\s+PRIMARY\s+SECONDARY\s+MODE\s+STATE\s+OUT OF SYNC\s+SENT\s+JOB$/m,
    );
    expect(result.stdout).toMatch(
      /^VOL001\s+primary\s+GS0001.01A0.VOL001\s+GS0002.01B0.VOL900\s+sync\s+pending\s+150\s+0 B\s+-$/m,
    );
  });

  it("lists pairs with a suspension's reason, a critical mode and a secondary's unknown backlog", async () => {
    const api = await startApi();
    api.pairs.setPair(
      examplePair("VOL001", { state: "suspended", reason: "link failure", critical: true }),
    );
    api.pairs.setPair(examplePair("VOL002", { role: "secondary", tracksOutOfSync: null }));
    const result = await runGsnap(api, "pair", "list");
    expect(result.stdout).toMatch(
      /^VOL001\s+primary .+sync, critical\s+suspended \(link failure\)\s+0\s+8\.2 MiB\s+-$/m,
    );
    expect(result.stdout).toMatch(/^VOL002\s+secondary .+duplex\s+-\s+8\.2 MiB\s+-$/m);
    const json = JSON.parse((await runGsnap(api, "pair", "list", "--json")).stdout);
    expect(json).toEqual(api.pairs.list());
  });

  it("names the GSC job whose copy a pair is, and the system that runs it", async () => {
    const api = await startApi();
    api.pairs.setPair(
      examplePair("#PUXY9", { mode: "copy", job: { id: "J000042", serial: "GS0001" } }),
    );
    api.pairs.setPair(
      examplePair("#T0B1Q", {
        role: "secondary",
        tracksOutOfSync: null,
        tracksToCopy: null,
        job: { id: "J000007", serial: "GS0002" },
      }),
    );
    const result = await runGsnap(api, "pair", "list");
    expect(result.stdout).toMatch(/^#PUXY9\s+primary .+\s+J000042 on GS0001$/m);
    expect(result.stdout).toMatch(/^#T0B1Q\s+secondary .+\s+J000007 on GS0002$/m);
  });

  it("shows, suspends, resumes and terminates a pair, in JSON too", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001"));
    expect(JSON.parse((await runGsnap(api, "pair", "show", "VOL001", "--json")).stdout)).toEqual(
      examplePair("VOL001"),
    );
    expect((await runGsnap(api, "pair", "show", "VOL001")).stdout).toMatch(/^VOL001\s+primary/m);
    const suspended = await runGsnap(api, "pair", "suspend", "VOL001");
    expect(suspended.stdout).toMatch(/suspended \(operator\)/);
    const resumed = JSON.parse((await runGsnap(api, "pair", "resume", "VOL001", "--json")).stdout);
    expect(resumed.state).toBe("duplex");
    const terminated = await runGsnap(api, "pair", "terminate", "VOL001");
    expect(terminated.stdout).toBe("Terminated the pair of VOL001\n");
    expect(api.pairs.list()).toEqual([]);
    const json = await runGsnap(api, "pair", "terminate", "VOL002", "--json");
    expect(json.code).toBe(ERROR_CODES.PAIR_NOT_FOUND.exitCode);
    expect(JSON.parse(json.stderr)).toMatchObject({ code: "PAIR_NOT_FOUND" });
  });

  it("waits with --wait until the copy is done and prints the duplex pair as JSON", async () => {
    const api = await startApi();
    later(
      api,
      "VOL001",
      { tracksOutOfSync: 70, rateBytesPerSecond: 1024 ** 2, etaSeconds: 3 },
      100,
    );
    later(api, "VOL001", { state: "duplex", tracksOutOfSync: 0 }, 700);
    const result = await runGsnap(
      api,
      ...[
        "pair",
        "establish",
        "VOL001",
        "GS0002.01B0.VOL900",
        "--mode",
        "copy",
        "--wait",
        "--json",
      ],
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: "duplex", mode: "copy" });
    // Not a terminal: plain lines, the first and the last.
    expect(result.stderr).toMatch(/^VOL001 \[\.{20}\] {2}0% {2}0\/150 tracks$/m);
    expect(result.stderr).toMatch(/^VOL001 \[#{20}\] {2}100% {2}150\/150 tracks/m);
  });

  it("fails --wait with PAIR_STATE_INVALID when the pair is suspended before the copy is done", async () => {
    const api = await startApi();
    api.pairs.setPair(
      examplePair("VOL001", { state: "suspended", reason: "operator", tracksOutOfSync: 9 }),
    );
    later(api, "VOL001", { state: "suspended", reason: "link failure" }, 100);
    const result = await runGsnap(api, "pair", "resume", "VOL001", "--wait");
    expect(result.code).toBe(ERROR_CODES.PAIR_STATE_INVALID.exitCode);
    expect(result.stderr).toContain(
      "gsnap: PAIR_STATE_INVALID: Pair VOL001 suspended (link failure) before the copy finished: " +
        "resume it with gsnap pair resume VOL001\n",
    );
    expect(result.stdout).toBe("");
  });

  it("exits with the API's error code", async () => {
    const api = await startApi();
    const result = await runGsnap(api, "pair", "show", "VOL002");
    expect(result.code).toBe(ERROR_CODES.PAIR_NOT_FOUND.exitCode);
    expect(result.stderr).toBe(
      'gsnap: PAIR_NOT_FOUND: Cannot show the pair of volume "VOL002": the volume is in no pair\n',
    );
    const missing = await runGsnap(api, "pair", "establish", "VOL001", "GS0002.01B0.VOL900");
    expect(missing.code).toBe(2);
  });

  it.each(["establish", "list", "show", "suspend", "resume", "terminate"])(
    "shows examples in `gsnap pair %s --help`",
    async (name) => {
      const api = await startApi({ seeded: false });
      const result = await runGsnap(api, "pair", name, "--help");
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/--json/);
      expect(result.stdout).toMatch(new RegExp(`\\nExamples?:\\n {2}gsnap pair ${name}\\b`));
    },
  );
});
