// The demo's host I/O over NBD. Writes use the best client installed: qemu-img or nbdcopy for an
// image, qemu-io for a pattern, and gsnap's own small NBD client when none is, so that the demo
// runs on a machine with only Node and npm. Reads for checksums use gsnap's own client.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { NbdClient } from "../nbd/nbd-client.js";
import type { ServeProcess } from "../testing/serve-process.js";

export const OWN_CLIENT = "gsnap's own NBD client (install qemu-utils or libnbd-bin to use theirs)";

export interface ByteRange {
  readonly volser: string;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

function installed(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function withClient<T>(
  server: ServeProcess,
  volser: string,
  use: (client: NbdClient) => Promise<T>,
): Promise<T> {
  const client = await NbdClient.connect({ host: server.nbdHost, port: server.nbdPort }, volser);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** Writes the file `image` at the start of export `volser`; answers the client that did. */
export async function writeImage(
  server: ServeProcess,
  how: { image: string; volser: string },
): Promise<string> {
  const uri = server.nbdUri(how.volser);
  if (installed("qemu-img")) {
    // -n: the export exists already (and is larger than the image).
    execFileSync("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", how.image, uri], {
      stdio: "pipe",
    });
    return "qemu-img convert";
  }
  if (installed("nbdcopy")) {
    execFileSync("nbdcopy", [how.image, uri], { stdio: "pipe" });
    return "nbdcopy";
  }
  await withClient(server, how.volser, async (client) => {
    await client.write(0, fs.readFileSync(how.image));
    await client.flush();
  });
  return OWN_CLIENT;
}

/** Fills `range` with the byte `pattern`, as a host would; answers the client that did. */
export async function writePattern(
  server: ServeProcess,
  range: ByteRange,
  pattern: number,
): Promise<string> {
  if (installed("qemu-io")) {
    const command = `write -P ${pattern} ${range.offsetBytes} ${range.lengthBytes}`;
    execFileSync("qemu-io", ["-f", "raw", "-c", command, server.nbdUri(range.volser)], {
      stdio: "pipe",
    });
    return "qemu-io";
  }
  await withClient(server, range.volser, async (client) => {
    await client.write(range.offsetBytes, Buffer.alloc(range.lengthBytes, pattern));
    await client.flush();
  });
  return OWN_CLIENT;
}

/** The SHA-256 of `range`, read over NBD, in its first 16 hex digits. */
export async function checksum(server: ServeProcess, range: ByteRange): Promise<string> {
  const bytes = await withClient(server, range.volser, (client) =>
    client.read(range.offsetBytes, range.lengthBytes),
  );
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}
