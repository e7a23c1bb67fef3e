// Global snap copy between two real `gsnap serve` processes, driven through the CLI: with and
// without S', with several extents, incremental repeats, --notify, refusals with their exit codes,
// and the fault-injecting proxy cutting the link mid-copy for longer than the job waits for it
// (the job fails clean; a rerun succeeds).

import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { type FaultProxy, faultProxies } from "../src/testing/fault-proxy.js";
import { missingNbdClientsNoticed, nbdinfo } from "../src/testing/nbd-clients.js";
import {
  establishPath,
  leftovers,
  cliOk as ok,
  readTracks,
  servedSystems,
  TRACK,
  writePattern as write,
} from "../src/testing/replication-process.js";
import { CLI_PATH, type ServeProcess } from "../src/testing/serve-process.js";

const CYLINDERS = 40;
const systems = servedSystems();
const proxies = faultProxies();
afterEach(() => proxies.closeAll());
afterAll(() => systems.cleanup());

/** Two systems, VOL001 full on A and VOL900 full of another pattern on B, a path (maybe proxied). */
async function setup(options: { proxy?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const b = await systems.serve("0000000002", "01B0");
  const a = await systems.serve("0000000001", "01A0", { env: options.env });
  await ok(a, "volume", "create", "VOL001", "--cylinders", String(CYLINDERS));
  await ok(b, "volume", "create", "VOL900", "--cylinders", String(CYLINDERS));
  await write(a.nbdUri("VOL001"), 0, CYLINDERS * 15 * TRACK, 0x5a);
  await write(a.nbdUri("VOL001"), 30 * 15 * TRACK, 15 * TRACK, 0x5b);
  await write(b.nbdUri("VOL900"), 0, CYLINDERS * 15 * TRACK, 0x0f);
  let link = b.linkAddress as string;
  let proxy: FaultProxy | undefined;
  if (options.proxy) {
    proxy = await proxies.start(link);
    link = `127.0.0.1:${proxy.port}`;
  }
  await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link });
  return { a, b, proxy };
}

// biome-ignore lint/suspicious/noExplicitAny: jobs as the API gives them.
function parse(text: string): any {
  return JSON.parse(text);
}

async function noLeftovers(a: ServeProcess, b: ServeProcess): Promise<void> {
  expect(await leftovers(a, b)).toEqual([]);
}

/** A job waits 2 s for a link that went down (not minutes), then fails: the proxy keeps refusing. */
const SHORT_LINK_WAIT = { GSNAP_TEST_GSC_LINK_WAIT_MS: "2000" };

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("gsc e2e").length > 0;

describe.skipIf(skip)("GSC between two real servers", () => {
  it("copies two extents into S's extent at another address with S', then only what changed", async () => {
    const { a, b } = await setup();
    const received: string[] = [];
    const hook = http.createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        received.push(body);
        response.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/done`;
    try {
      const request = "VOL001:0.0-1.14+30.0-30.14, *, 0000000002.01B0.VOL900:10.0-12.14, *";
      const done = parse(await ok(a, "gsc", request, "--wait", "--json", "--notify", hookUrl));
      expect(done).toMatchObject({ state: "succeeded", resultCode: "OK" });
      expect(done.steps.map((step: { step: number }) => step.step)).toEqual([
        500, 502, 506, 508, 510, 512, 514, 516, 518, 520, 522, 524,
      ]);
      const source = Buffer.concat([
        await readTracks(a, "VOL001", 0, 30),
        await readTracks(a, "VOL001", 450, 15),
      ]);
      expect((await readTracks(b, "VOL900", 150, 45)).equals(source)).toBe(true);
      // Outside the extent, S is as it was.
      expect((await readTracks(b, "VOL900", 0, 150)).every((byte) => byte === 0x0f)).toBe(true);
      expect((await readTracks(b, "VOL900", 195, 15)).every((byte) => byte === 0x0f)).toBe(true);
      await noLeftovers(a, b);
      await expect.poll(() => received.length).toBe(1);
      expect(JSON.parse(received[0])).toMatchObject({ id: done.id, state: "succeeded" });

      // One track changes: the repeat sends one track.
      await write(a.nbdUri("VOL001"), 5 * TRACK, 4096, 0x77);
      const again = parse(await ok(a, "gsc", request, "--wait", "--json"));
      expect(again).toMatchObject({ state: "succeeded" });
      expect(again.progress.bytesDone).toBe(TRACK);
      expect(
        (await readTracks(b, "VOL900", 150, 30)).equals(await readTracks(a, "VOL001", 0, 30)),
      ).toBe(true);

      const shown = await ok(a, "job", "show", again.id);
      expect(shown).toMatch(/succeeded/);
      expect(
        parse(await ok(a, "job", "list", "--json")).map((job: { id: string }) => job.id),
      ).toEqual([again.id, done.id]);
    } finally {
      hook.close();
    }
  });

  it("copies to S at the same addresses without S' (flags form), leaving the rest of S", async () => {
    const { a, b } = await setup();
    const started = parse(
      await ok(
        a,
        "gsc",
        "--source",
        "VOL001:2.0-3.14",
        "--intermediate",
        "*",
        "--target",
        "0000000002.01B0.VOL900",
        "--json",
      ),
    );
    const done = parse(await ok(a, "job", "wait", started.id, "--json"));
    expect(done).toMatchObject({ state: "succeeded" });
    expect(
      (await readTracks(b, "VOL900", 30, 30)).equals(await readTracks(a, "VOL001", 30, 30)),
    ).toBe(true);
    expect((await readTracks(b, "VOL900", 60, 15)).every((byte) => byte === 0x0f)).toBe(true);
    await noLeftovers(a, b);
  });

  it("refuses bad requests before anything changes, with each error's exit code", async () => {
    const { a, b } = await setup();
    const refused = async (text: string, code: keyof typeof ERROR_CODES) => {
      const result = await a.cli("gsc", text);
      expect(result.code, `${text}: ${result.stderr}`).toBe(ERROR_CODES[code].exitCode);
      expect(result.stderr).toMatch(new RegExp(`^gsnap: ${code}: `));
    };
    await refused("VOL001:0.0-0.14, *", "GSC_REQUEST_MALFORMED");
    await refused("VOL001:0.0-0.14, *, 0000000002.01B0.NOPE", "VOLUME_NOT_FOUND");
    await refused(
      "VOL001:0.0-0.14, *, 0000000002.01B0.VOL900:1.0-1.14",
      "GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE",
    );
    await refused("VOL001:0.0-0.14, *, 0000000002.01B0.VOL900:1.0-2.14, *", "EXTENT_SIZE_MISMATCH");
    await refused("VOL001:0.0-0.14, *, 0000000009.01B0.VOL900", "PATH_NOT_FOUND");
    expect(parse(await ok(a, "job", "list", "--json"))).toEqual([]);
    await noLeftovers(a, b);
  });

  it("fails a job whose link is cut mid-copy for longer than it waits, cleanly, and a rerun succeeds", async () => {
    const { a, b, proxy } = await setup({ proxy: true, env: SHORT_LINK_WAIT });
    if (proxy === undefined) throw new Error("no proxy");
    const before = await readTracks(b, "VOL900", 150, 150);
    proxy.cutAfterBytes(2 * 1024 * 1024);
    proxy.setRefusing(true);
    const request = "VOL001:0.0-9.14, *, 0000000002.01B0.VOL900:10.0-19.14, *";
    const failed = await a.cli("gsc", request, "--wait");
    expect(failed.code).toBe(ERROR_CODES.GSC_TRANSFER_FAILED.exitCode);
    expect(failed.stderr).toContain("the link did not come back within 2 s");
    expect((await readTracks(b, "VOL900", 150, 150)).equals(before)).toBe(true);
    proxy.setRefusing(false);
    // The release at the target waits for the link to come back; then nothing is left.
    await expect
      .poll(async () => parse(await ok(b, "volume", "list", "--json")).length, { timeout: 20_000 })
      .toBe(1);
    await noLeftovers(a, b);
    const done = parse(await ok(a, "gsc", request, "--wait", "--json"));
    expect(done.state).toBe("succeeded");
    expect(
      (await readTracks(b, "VOL900", 150, 150)).equals(await readTracks(a, "VOL001", 0, 150)),
    ).toBe(true);
  });

  it("marks S inconsistent where operators look when a GSC without S' is cut mid-copy; a rerun clears it", async () => {
    const { a, b, proxy } = await setup({ proxy: true, env: SHORT_LINK_WAIT });
    if (proxy === undefined) throw new Error("no proxy");
    // After the first batch of 64 tracks (3.7 MB) has reached S, during the second.
    proxy.cutAfterBytes(6 * 1024 * 1024);
    proxy.setRefusing(true);
    const request = "VOL001:0.0-9.14, *, 0000000002.01B0.VOL900";
    const failed = await a.cli("gsc", request, "--wait", "--json");
    expect(failed.code).toBe(ERROR_CODES.GSC_TRANSFER_FAILED.exitCode);
    proxy.setRefusing(false);
    // The target was not reached at clean-up: the job says what it may have left.
    const job = parse((await a.cli("job", "list", "--json")).stdout)[0];
    expect(job.resultMessage).toContain(
      "the target 0000000002.01B0.VOL900 may be left inconsistent",
    );
    const jobId = job.id;
    const shown = parse(await ok(b, "volume", "show", "VOL900", "--json"));
    expect(shown.inconsistent).toMatchObject({
      pair: expect.stringMatching(/^0000000001\.01A0\.#/),
      job: { id: jobId, serial: "0000000001" },
    });
    expect(await ok(b, "volume", "show", "VOL900")).toContain("inconsistent");
    expect(await ok(b, "volume", "list")).toMatch(/INCONSISTENT[\s\S]*VOL900.*yes/);
    const metrics = await fetch(`${b.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(await metrics.text()).toContain('gsnap_volume_inconsistent{volser="VOL900"} 1');
    const info = JSON.parse((await nbdinfo(["--json", b.nbdUri("VOL900")])).stdout);
    expect(JSON.stringify(info)).toContain("INCONSISTENT: a copy from 0000000001.01A0.#");

    const done = parse(await ok(a, "gsc", request, "--wait", "--json"));
    expect(done.state).toBe("succeeded");
    expect(parse(await ok(b, "volume", "show", "VOL900", "--json")).inconsistent).toBeUndefined();
    const after = await fetch(`${b.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(await after.text()).not.toContain("gsnap_volume_inconsistent{");
  });
});
