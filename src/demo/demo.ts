// `npm run demo`: the whole story of a global snap copy (DESIGN.md §3) for a new user. It starts
// two real storage systems on temporary data dirs, writes a volume through NBD, establishes a
// path, runs a GSC with a target intermediate S' into an extent at other addresses, writes to the
// source during the copy (the target does not get that write), checks the result with checksums
// read over NBD, and stops both systems cleanly.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { jobTracks } from "../cli/job-print.js";
import { formatBytes } from "../cli/output.js";
import type { JobInfo } from "../gsc/job-service.js";
import type { ServeProcess } from "../testing/serve-process.js";
import {
  CYLINDER_BYTES,
  compareSums,
  EXTENT_BYTES,
  extentSums,
  printSums,
  TARGET_CYLINDER_0,
  TARGET_EXTENT,
} from "./extent-checks.js";
import { pastSourceSnap, startGsc, watchJob } from "./gsc-run.js";
import { gsnap, gsnapJson, indent, say } from "./narration.js";
import { type ByteRange, writeImage, writePattern } from "./nbd-io.js";
import { SYSTEM_A, SYSTEM_B, startSystem, subsystemName } from "./two-systems.js";

const VOLUME_CYLINDERS = 200;
/** The host's write during the copy: tracks 0.0-0.14 of VOL001. */
const HOST_WRITE: ByteRange = { volser: "VOL001", offsetBytes: 0, lengthBytes: CYLINDER_BYTES };
const TARGET_PATTERN = 0x5a;
const HOST_PATTERN = 0xa5;
/**
 * On loopback the copy would end before anyone could watch it (or write during it); capped at this
 * many MB/s, the 86 MB extent takes a few seconds.
 */
const DEMO_BANDWIDTH_MBPS = 30;

interface Systems {
  readonly a: ServeProcess;
  readonly b: ServeProcess;
}

async function startBoth(workDir: string): Promise<Systems> {
  const a = await startSystem(SYSTEM_A, workDir);
  const b = await startSystem(SYSTEM_B, workDir).catch(async (error) => {
    await a.stop();
    throw error;
  });
  say("1. Started two storage systems, each a `gsnap serve` with its own data dir:");
  for (const [identity, server] of [
    [SYSTEM_A, a],
    [SYSTEM_B, b],
  ] as const) {
    say(
      `   ${identity.name}: serial ${identity.serial}, SSID ${identity.ssid}, data ${server.dataDir}\n` +
        `      API ${server.apiUrl}  NBD nbd://${server.nbdHost}:${server.nbdPort}  LINK ${server.linkAddress}`,
    );
  }
  return { a, b };
}

async function createVolumes({ a, b }: Systems, workDir: string): Promise<void> {
  say(`\n2. Created a thin ${VOLUME_CYLINDERS}-cylinder volume on each system:`);
  say(indent(await gsnap(a, "volume", "create", "VOL001", "--cylinders", `${VOLUME_CYLINDERS}`)));
  say(indent(await gsnap(b, "volume", "create", "VOL900", "--cylinders", `${VOLUME_CYLINDERS}`)));

  const image = path.join(workDir, "image.raw");
  const bytes = Buffer.alloc(EXTENT_BYTES);
  for (let i = 0; i < bytes.length; i += 8) bytes.writeDoubleLE(Math.sin(i) * 1e6, i);
  fs.writeFileSync(image, bytes);
  const writer = await writeImage(a, { image, volser: "VOL001" });
  say(
    `\n3. Wrote a ${formatBytes(EXTENT_BYTES)} image over cylinders 0-99 of VOL001 on A through NBD, with ${writer}.`,
  );
  const shown = await gsnap(a, "volume", "show", "VOL001");
  say(
    indent(
      shown
        .split("\n")
        .filter((line) => line.startsWith("allocated"))
        .join("\n"),
    ),
  );
  const patterned = await writePattern(b, TARGET_CYLINDER_0, TARGET_PATTERN);
  await writePattern(b, TARGET_EXTENT, TARGET_PATTERN);
  say(
    `   Filled cylinder 0 and cylinders 100-199 of VOL900 on B with bytes 0x${TARGET_PATTERN.toString(16)}, with ${patterned}.`,
  );
}

async function establishPath({ a, b }: Systems): Promise<void> {
  say(`\n5. Established a path from A's SSID ${SYSTEM_A.ssid} to B over B's link listener:`);
  const to = subsystemName(SYSTEM_B);
  const link = b.linkAddress as string;
  say(
    indent(
      await gsnap(a, "path", "establish", "--ssid", SYSTEM_A.ssid, "--to", to, "--link", link),
    ),
  );
  say(indent(await gsnap(a, "path", "list")));
}

/** "step 510, 239/1,500 tracks sent", as the CLI's progress line counts them. */
function whereText(job: JobInfo): string {
  const { done, total, unit } = jobTracks(job.progress);
  const count = (value: number) => value.toLocaleString("en-US");
  return `step ${job.step}, ${count(done)}/${count(total)} ${unit}`;
}

/** Runs the GSC and writes to its source once the snap made the source free; answers the job. */
async function runGsc({ a }: Systems): Promise<JobInfo> {
  say(
    "\n6. Global snap copy: snap VOL001:0.0-99.14 into an intermediate P' on A (*: allocated), copy it\n" +
      "   to an intermediate S' on B, then snap S' into VOL900:100.0-199.14 in one atomic step.\n" +
      `   Capped at ${DEMO_BANDWIDTH_MBPS} MB/s so that the copy lasts long enough to watch:`,
  );
  const target = `${subsystemName(SYSTEM_B)}.VOL900:100.0-199.14`;
  const run = startGsc(a, [
    `VOL001:0.0-99.14, *, ${target}, *`,
    "--wait",
    "--bandwidth",
    `${DEMO_BANDWIDTH_MBPS}`,
  ]);
  const snapped = await watchJob(a, pastSourceSnap);
  const writer = await writePattern(a, HOST_WRITE, HOST_PATTERN);
  const after = await watchJob(a, (job) => job.id === snapped.id);
  say(
    `   >> ${snapped.id} had snapped the source (${whereText(snapped)}), so a host wrote ` +
      `0x${HOST_PATTERN.toString(16)} over VOL001 tracks 0.0-0.14 with ${writer};\n` +
      `      when that write had completed the job was ${after.state === "running" ? "still copying" : after.state} (${whereText(after)}).`,
  );
  const code = await run.exited;
  if (code !== 0) throw new Error(`gsnap gsc exited with ${code}`);
  return snapped;
}

async function main(): Promise<void> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-demo-"));
  say("gsnap demo: two storage systems, a volume written through NBD, and a global snap copy\n");
  const systems = await startBoth(workDir);
  const { a, b } = systems;
  let verified = false;
  try {
    await createVolumes(systems, workDir);

    say("\n4. Checksums (SHA-256, read over NBD) before the copy:");
    const before = await extentSums(systems);
    printSums(before);

    await establishPath(systems);
    const job = await runGsc(systems);

    say(`\n7. The job's record on A, with the time each step took:`);
    const shown = await gsnap(a, "job", "show", job.id);
    say(indent(shown));
    const ended = await gsnapJson<JobInfo>(a, "job", "show", job.id);

    say("\n8. The verification:");
    say(`   The job's result: ${ended.resultCode}: ${ended.resultMessage}`);
    say("   Checksums now, read over NBD:");
    const now = await extentSums(systems);
    verified = compareSums(before, now) && ended.state === "succeeded";
  } finally {
    const codeA = await a.stop();
    const codeB = await b.stop();
    say(`\n9. Stopped both systems with SIGTERM: A exited with ${codeA}, B with ${codeB}.`);
    if (codeA !== 0 || codeB !== 0) verified = false;
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (!verified) {
    process.exitCode = 1;
    say("\nThe demo's checks FAILED: see above.");
    return;
  }
  say("\nDone. Everything ran on temporary data dirs, now removed. Next: `gsnap gsc --help`.");
}

await main().catch((error: Error) => {
  process.stderr.write(`\nThe demo failed: ${error.message}\n`);
  process.exitCode = 1;
});
