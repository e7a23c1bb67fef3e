// GSC jobs resume (issue 16): SIGKILL of the source or of the target system at steps 506, 510
// (mid-copy, under a bandwidth cap), 514 and 518, between two real `gsnap serve` processes; after
// the restart the job goes on from where it was and ends succeeded, the target extent holds the
// source's bytes, nothing of the job is left, and the copy after the restart sent at most the
// tracks the target still lacked. A killed source resumes at its next start ("system restart"),
// waiting for its target when that is down too; a killed target is waited for ("link failure").

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
/** P's extent: cylinders 0 to 9, 150 tracks; S's target extent is cylinders 10 to 19. */
const EXTENT_TRACKS = 150;
const REQUEST = "VOL001:0.0-9.14, *, 0000000002.01B0.VOL900:10.0-19.14, *";
/**
 * MB/s. The copy sends batches of 64 tracks (3.7 MB), the first at once and each next one when
 * the cap allows: at 1 MB/s the second goes some 3.7 s after the first, time to kill a system
 * with one batch sent and two to go.
 */
const SLOW_MBPS = "1";
/** Tracks of the copy's first batch (MAX_BATCH_TRACKS_SENT): sent, the copy is mid-way. */
const FIRST_BATCH_TRACKS = 64;
/** How long a source paused at a step waits there while the test kills the target. */
const TARGET_PAUSE_MS = 2_500;

const systems = servedSystems();
afterAll(() => systems.cleanup());

// biome-ignore lint/suspicious/noExplicitAny: the job as the API answers it.
type Job = any;

async function job(server: ServeProcess, id: string): Promise<Job> {
  return JSON.parse(await ok(server, "job", "show", id, "--json"));
}

/** Waits until the job is at `step` (510: until it has sent a few tracks, mid-copy). */
function reached(server: ServeProcess, id: string, step: number): Promise<Job> {
  return pollUntil(
    () => job(server, id),
    (info) =>
      step === 510
        ? info.step === 510 && (info.progress.tracksSent ?? 0) >= FIRST_BATCH_TRACKS
        : info.step === step,
    { what: `job never reached ${step}`, intervalMs: 100 },
  );
}

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("gsc resume").length > 0;

describe.skipIf(skip)("a GSC job across a SIGKILL", () => {
  it.each<["source" | "target" | "both", number]>([
    ["source", 506],
    ["source", 510],
    ["source", 514],
    ["source", 518],
    ["target", 506],
    ["target", 510],
    ["target", 514],
    ["target", 518],
    // Both go down; the source comes back first and waits for the target.
    ["both", 510],
  ])(
    "resumes after a SIGKILL of %s at step %i and succeeds",
    { timeout: 60_000 },
    async (side, step) => {
      // The source pauses at the step (for ever when it is the one killed, a while when the
      // target is); at 510 the copy itself runs slowly instead.
      const pause =
        step === 510
          ? {}
          : { GSNAP_TEST_PAUSE_AT: side === "source" ? `${step}` : `${step}:${TARGET_PAUSE_MS}` };
      let b = await systems.serve("0000000002", "01B0");
      let a = await systems.serve("0000000001", "01A0", { env: pause });
      await ok(a, "volume", "create", "VOL001", "--cylinders", String(CYLINDERS));
      await ok(b, "volume", "create", "VOL900", "--cylinders", String(CYLINDERS));
      // P's extent, and S's target extent with the 15 tracks before it.
      await write(a.nbdUri("VOL001"), 0, EXTENT_TRACKS * TRACK, 0x61);
      await write(a.nbdUri("VOL001"), 20 * TRACK, 10 * TRACK, 0x62);
      await write(b.nbdUri("VOL900"), 135 * TRACK, (15 + EXTENT_TRACKS) * TRACK, 0x0b);
      // Restarted, the target must be found at the same link address.
      const bLink = b.linkAddress as string;
      await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link: bLink });
      const bandwidth = step === 510 ? ["--bandwidth", SLOW_MBPS] : [];
      const started = JSON.parse(await ok(a, "gsc", REQUEST, ...bandwidth, "--json"));
      const before = await reached(a, started.id, step);
      const sentBefore = before.progress.tracksSent ?? 0;

      if (side === "both") {
        await a.kill();
        await b.kill();
        a = await systems.serve("0000000001", "01A0", { dataDir: a.dataDir });
        await new Promise((resolve) => setTimeout(resolve, TARGET_PAUSE_MS));
        b = await systems.serve("0000000002", "01B0", {
          dataDir: b.dataDir,
          args: ["--link", bLink],
        });
      } else if (side === "source") {
        await a.kill();
        a = await systems.serve("0000000001", "01A0", { dataDir: a.dataDir });
      } else {
        await b.kill();
        // Down long enough that the source's requests (or its copy) fail and it waits.
        await new Promise((resolve) => setTimeout(resolve, step === 510 ? 1_000 : TARGET_PAUSE_MS));
        b = await systems.serve("0000000002", "01B0", {
          dataDir: b.dataDir,
          args: ["--link", bLink],
        });
      }
      const ended = await pollUntil(
        () => job(a, started.id),
        (info) => ["succeeded", "failed", "cancelled"].includes(info.state),
        { what: "the job never ended", intervalMs: 200, timeoutMs: 40_000 },
      );
      if (process.env.GSNAP_TEST_SHOW_JOB) console.log(JSON.stringify(ended, null, 1));
      expect(ended, JSON.stringify(ended)).toMatchObject({ state: "succeeded", resultCode: "OK" });
      const causes = ended.resumed.map((entry: { after: string }) => entry.after);
      expect(causes).toContain(side === "target" ? "link failure" : "system restart");
      if (side !== "target") {
        // From the step after the last one completed; the checksums of 508 are read again.
        const from = { 506: 506, 510: 508, 514: 508, 518: 518 }[step];
        expect(ended.resumed[0].fromStep).toBe(from);
      }

      const target = await readTracks(b, "VOL900", 150, EXTENT_TRACKS);
      const source = await readTracks(a, "VOL001", 0, EXTENT_TRACKS);
      expect(target.equals(source), "the target extent holds P's tracks").toBe(true);
      expect((await readTracks(b, "VOL900", 135, 15)).every((byte) => byte === 0x0b)).toBe(true);
      await pollUntil(
        () => leftovers(a, b),
        (left) => left.length === 0,
        { what: "a pair or an intermediate was left", intervalMs: 200 },
      );

      // What crossed after the kill: only what the target still lacked.
      const { progress } = ended;
      if (step === 510) {
        expect(sentBefore).toBeGreaterThan(0);
        expect(progress.tracksToSend).toBeLessThanOrEqual(EXTENT_TRACKS - sentBefore);
        expect(progress.bytesDone).toBeLessThanOrEqual((EXTENT_TRACKS - sentBefore) * TRACK);
      } else if (side === "source" && step === 514) {
        // The copy had ended: the compare after the restart finds nothing to send.
        expect(progress.tracksToSend).toBe(0);
        expect(progress.bytesDone).toBe(0);
      } else if (step === 518) {
        // No copy ran again: the job's copy is the one before the kill.
        const copies = ended.steps.filter((record: { step: number }) => record.step === 510);
        expect(copies).toHaveLength(1);
      }
      await a.kill();
      await b.kill();
    },
  );
});
