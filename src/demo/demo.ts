// `npm run demo`: a tour for a new user. It starts a real `gsnap serve` on a temporary data dir,
// creates a volume with the CLI, writes an image into it over NBD (with qemu-img or nbdcopy when
// installed, else with gsnap's own small NBD client), snaps it with the CLI, reads the snap back
// over NBD, shows that it matches and that no data moved, and stops the server cleanly.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatBytes } from "../cli/output.js";
import { NbdClient } from "../nbd/nbd-client.js";
import { chunkChecksum } from "../store/checksum.js";
import { type ServeProcess, startServe } from "../testing/serve-process.js";

const say = (text: string) => process.stdout.write(`${text}\n`);
const IMAGE_BYTES = 16 * 1024 * 1024;

function installed(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function gsnap(server: ServeProcess, ...args: string[]): Promise<string> {
  say(`   $ gsnap ${args.join(" ")}`);
  const result = await server.cli(...args);
  if (result.code !== 0)
    throw new Error(`gsnap ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

function indent(text: string): string {
  return text.trimEnd().replace(/^/gm, "     ");
}

/** Copies a file into an export, or an export into a file, with the best client available. */
async function copy(
  server: ServeProcess,
  how: { from: string; to: string; volser: string },
): Promise<string> {
  const uri = server.nbdUri(how.volser);
  const fromUri = how.from === how.volser ? uri : how.from;
  const toUri = how.to === how.volser ? uri : how.to;
  if (installed("qemu-img")) {
    // -n: the export exists already; a file target is created.
    const noCreate = how.to === how.volser ? ["-n"] : [];
    execFileSync("qemu-img", ["convert", ...noCreate, "-f", "raw", "-O", "raw", fromUri, toUri], {
      stdio: "pipe",
    });
    return "qemu-img convert";
  }
  if (installed("nbdcopy")) {
    execFileSync("nbdcopy", [fromUri, toUri], { stdio: "pipe" });
    return "nbdcopy";
  }
  const client = await NbdClient.connect(
    { host: server.nbdHost, port: server.nbdPort },
    how.volser,
  );
  try {
    if (how.to === how.volser) {
      await client.write(0, fs.readFileSync(how.from));
      await client.flush();
    } else {
      fs.writeFileSync(how.to, await client.read(0, IMAGE_BYTES));
    }
  } finally {
    await client.close();
  }
  return "gsnap's own NBD client (install qemu-utils or libnbd-bin to use theirs)";
}

async function main(): Promise<void> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-demo-"));
  const dataDir = path.join(workDir, "gsnap-data");
  say("gsnap demo: one storage system, its volumes over NBD, and an instant snap copy\n");
  const server = await startServe({ dataDir });
  try {
    say(`1. Started a storage system: \`gsnap serve --data ${dataDir}\`.`);
    say(
      `   Its API listens at ${server.apiUrl}, its NBD server at nbd://${server.nbdHost}:${server.nbdPort}.\n`,
    );

    say("2. Created a thin volume of 100 cylinders (1,500 tracks of 57,344 bytes, 82 MiB):");
    say(indent(await gsnap(server, "volume", "create", "VOL001", "--cylinders", "100")));

    const image = path.join(workDir, "image.raw");
    const bytes = Buffer.alloc(IMAGE_BYTES);
    for (let i = 0; i < bytes.length; i += 8) bytes.writeDoubleLE(Math.sin(i) * 1e6, i);
    fs.writeFileSync(image, bytes);
    const writer = await copy(server, { from: image, to: "VOL001", volser: "VOL001" });
    say(`\n3. Wrote a ${formatBytes(IMAGE_BYTES)} image into VOL001 over NBD with ${writer}.`);
    say("   The volume stores only what was written:");
    say(
      indent(
        (await gsnap(server, "volume", "show", "VOL001"))
          .split("\n")
          .filter((line) => line.startsWith("allocated"))
          .join("\n"),
      ),
    );

    say("\n4. Created VOL002 and snapped all of VOL001 onto it:");
    await gsnap(server, "volume", "create", "VOL002", "--cylinders", "100");
    const before = JSON.parse(
      await server.cli("system", "show", "--json").then((result) => result.stdout),
    );
    const started = process.hrtime.bigint();
    say(indent(await gsnap(server, "snap", "VOL001:0.0-99.14", "VOL002")));
    const snapMs = Number(process.hrtime.bigint() - started) / 1e6;
    const after = JSON.parse(
      await server.cli("system", "show", "--json").then((result) => result.stdout),
    );
    say(
      `   That took ${snapMs.toFixed(0)} ms end to end, the CLI's start included. No data moved: the store holds ` +
        `${formatBytes(after.capacity.liveBytes)} before and after ` +
        `(${before.capacity.liveBytes === after.capacity.liveBytes ? "unchanged" : "changed!"}); both volumes point at the same chunks.`,
    );

    const back = path.join(workDir, "back.raw");
    const reader = await copy(server, { from: "VOL002", to: back, volser: "VOL002" });
    const copied = fs.readFileSync(back).subarray(0, IMAGE_BYTES);
    const same = copied.equals(bytes);
    say(`\n5. Read VOL002 back over NBD with ${reader}:`);
    say(
      `   checksum ${chunkChecksum(copied).toString(16)} ${same ? "matches" : "DOES NOT match"} the image's ` +
        `${chunkChecksum(bytes).toString(16)}.`,
    );

    say("\n6. Asked the server to check its store (every checksum, every reference count):");
    say(indent(await gsnap(server, "fsck")));
    if (!same) process.exitCode = 1;
  } finally {
    const code = await server.stop();
    say(
      `\n7. Stopped the server with SIGTERM: it flushed, closed its store and exited with ${code}.`,
    );
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  say("\nDone. Everything ran on a temporary data dir, now removed. Next: `gsnap serve --help`.");
}

await main().catch((error: Error) => {
  process.stderr.write(`\nThe demo failed: ${error.message}\n`);
  process.exitCode = 1;
});
