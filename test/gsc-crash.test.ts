// SIGKILL of the source or the target system in the middle of a GSC, at named steps (the test
// hook GSNAP_TEST_PAUSE_AT holds the job there), then a restart: the job resumes and ends
// succeeded (a job killed at 520, its target final, too), never leaves a pair, a reservation or
// an intermediate behind, and the target extent is wholly new.

import fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { missingNbdClientsNoticed } from "../src/testing/nbd-clients.js";
import {
  establishPath,
  leftovers,
  cliOk as ok,
  pollUntil,
  readTracks,
  servedSystems,
  TRACK,
  writePattern as write,
} from "../src/testing/replication-process.js";
import { CLI_PATH, type ServeProcess } from "../src/testing/serve-process.js";

const CYLINDERS = 20;
const EXTENT_TRACKS = 45;
const systems = servedSystems();
afterAll(() => systems.cleanup());

// biome-ignore lint/suspicious/noExplicitAny: the job as the API answers it.
async function job(server: ServeProcess, id: string): Promise<any> {
  return JSON.parse(await ok(server, "job", "show", id, "--json"));
}

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("gsc crash").length > 0;

describe.skipIf(skip)("GSC across a SIGKILL", () => {
  // Only the job's acceptance and its end are synced on the source: a kill at 502 (before P'
  // exists) and at 508 (the pair being made) must be cleaned up from the accepted record alone.
  const cases: [string, number][] = [
    ["source", 502],
    ["source", 506],
    ["source", 508],
    ["source", 510],
    ["source", 518],
    ["source", 520],
    ["target", 510],
    ["target", 518],
    ["target", 520],
  ];
  it.each(cases)("kill of the %s at step %i: succeeded, and clean", async (side, step) => {
    // The target is started on a fixed link port (chosen by a first start) so that a restarted
    // target is found by the source's path again.
    const env = { GSNAP_TEST_PAUSE_AT: side === "source" ? String(step) : `${step}:3000` };
    let b = await systems.serve("0000000002", "01B0");
    let a = await systems.serve("0000000001", "01A0", { env });
    await ok(a, "volume", "create", "VOL001", "--cylinders", String(CYLINDERS));
    await ok(b, "volume", "create", "VOL900", "--cylinders", String(CYLINDERS));
    await write(a.nbdUri("VOL001"), 0, CYLINDERS * 15 * TRACK, 0x61);
    await write(b.nbdUri("VOL900"), 0, CYLINDERS * 15 * TRACK, 0x0b);
    const old = await readTracks(b, "VOL900", 150, EXTENT_TRACKS);
    const bLink = b.linkAddress as string;
    await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link: bLink });
    const started = JSON.parse(
      await ok(a, "gsc", "VOL001:0.0-2.14, *, 0000000002.01B0.VOL900:10.0-12.14, *", "--json"),
    );
    await pollUntil(
      () => job(a, started.id),
      (info) => info.step === step,
      { what: `job never reached ${step}`, intervalMs: 200 },
    );

    if (side === "source") {
      await a.kill();
      a = await systems.serve("0000000001", "01A0", { dataDir: a.dataDir });
    } else {
      await b.kill();
      b = await systems.serve("0000000002", "01B0", {
        dataDir: b.dataDir,
        args: ["--link", bLink],
      });
    }
    const ended = await pollUntil(
      () => job(a, started.id),
      (info) => ["succeeded", "failed", "cancelled"].includes(info.state),
      { what: "the job never ended", intervalMs: 200 },
    );
    expect(ended.state, JSON.stringify(ended)).toBe("succeeded");
    // No pair and no allocated intermediate left on either side.
    await pollUntil(
      () => leftovers(a, b),
      (left) => left.length === 0,
      { what: "a pair or an intermediate was left", intervalMs: 200 },
    );
    const now = await readTracks(b, "VOL900", 150, EXTENT_TRACKS);
    const source = await readTracks(a, "VOL001", 0, EXTENT_TRACKS);
    const whole = now.equals(old) || now.equals(source);
    expect(whole, `the target extent is half copied after a ${ended.state} job`).toBe(true);
    if (ended.state === "succeeded") expect(now.equals(source)).toBe(true);
    await a.kill();
    await b.kill();
  });
});
