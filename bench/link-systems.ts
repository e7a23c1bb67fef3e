// The two gsnap systems of the link and GSC benchmarks (bench/link.ts, bench/gsc.ts): real
// `gsnap serve` processes on loopback with a peer link, a path between them, volumes of a given
// size, and 1% of a volume's tracks rewritten over NBD; and the nbdkit pair they are measured
// against.

import type { ChildProcess } from "node:child_process";
import { randomFillSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { NbdClient } from "../src/nbd/nbd-client.js";
import { type ServeProcess, startServe } from "../src/testing/serve-process.js";
import { makeSource, startNbdkit } from "./link-peers.js";
import { api } from "./pair-api.js";

export const TRACK_BYTES = 57_344;
export const TRACKS_PER_CYLINDER = 15;
/** Every 100th track changes before a resume or a repeated GSC: 1%, spread over the volume. */
export const CHANGE_TRACK_STRIDE = 100;
const SECRET = "bench-link-secret";

export interface Identity {
  readonly serial: string;
  readonly ssid: string;
}

export const PRIMARY: Identity = { serial: "0000000001", ssid: "01A0" };
export const SECONDARY: Identity = { serial: "0000000002", ssid: "01B0" };

export type Systems = { primary: ServeProcess; secondary: ServeProcess };

/** The cylinders of a volume that holds `totalBytes`, rounded up to whole cylinders. */
export function cylindersFor(totalBytes: number): number {
  return Math.ceil(totalBytes / TRACK_BYTES / TRACKS_PER_CYLINDER);
}

/** Starts `gsnap serve` in `dir/name` with a peer link on a free loopback port. */
export async function startSystem(
  dir: string,
  options: { name: string; identity: Identity },
): Promise<ServeProcess> {
  const server = await startServe({
    dataDir: path.join(dir, options.name),
    args: [
      "--serial",
      options.identity.serial,
      "--ssid",
      options.identity.ssid,
      "--link",
      "127.0.0.1:0",
      "--link-secret",
      SECRET,
    ],
  });
  if (server.linkAddress === undefined) {
    await server.stop();
    throw new Error(`gsnap serve printed no LINK address:\n${server.output()}`);
  }
  return server;
}

export async function createVolume(
  server: ServeProcess,
  volume: { volser: string; ssid: string; cylinders: number },
): Promise<void> {
  await api(server, { method: "POST", path: "/v1/volumes", body: volume });
}

/** Establishes the path from the primary's subsystem to the secondary's over its one link. */
export async function establishPath(systems: Systems): Promise<void> {
  const established = await api<{ state: string }>(systems.primary, {
    method: "POST",
    path: "/v1/paths",
    body: {
      ssid: PRIMARY.ssid,
      to: `${SECONDARY.serial}.${SECONDARY.ssid}`,
      links: [systems.secondary.linkAddress],
    },
  });
  if (established.state !== "established") {
    throw new Error(`The path is not established: ${JSON.stringify(established)}`);
  }
}

/** Writes new random data over every 100th whole track of `volser`; answers the tracks written. */
export async function changeTracks(
  server: ServeProcess,
  volume: { volser: string; tracks: number },
): Promise<number> {
  const client = await NbdClient.connect(
    { host: server.nbdHost, port: server.nbdPort },
    volume.volser,
  );
  const data = Buffer.allocUnsafe(TRACK_BYTES);
  let written = 0;
  for (let track = 0; track < volume.tracks; track += CHANGE_TRACK_STRIDE) {
    randomFillSync(data);
    await client.write(track * TRACK_BYTES, data);
    written += 1;
  }
  await client.flush();
  await client.close();
  return written;
}

/** The nbdkit `file` servers that nbdcopy copies between: the source file and the target file. */
export interface Peers {
  readonly source: { uri: string; child: ChildProcess };
  readonly target: { uri: string; child: ChildProcess };
  readonly sourceFile: string;
  readonly targetFile: string;
}

/**
 * Writes `totalBytes` of source data and an empty target file of that size into `dir`, starts both
 * systems with the path between them and an nbdkit server on each file. Each process started is
 * stopped by `cleanups`, also when a later start fails.
 */
export async function startBench(
  dir: string,
  options: { totalBytes: number; cleanups: (() => Promise<unknown>)[] },
): Promise<{ systems: Systems; peers: Peers }> {
  const { totalBytes, cleanups } = options;
  const sourceFile = path.join(dir, "source.img");
  const targetFile = path.join(dir, "target.img");
  makeSource(sourceFile, totalBytes);
  fs.writeFileSync(targetFile, "");
  fs.truncateSync(targetFile, totalBytes);
  const primary = await startSystem(dir, { name: "primary", identity: PRIMARY });
  cleanups.push(() => primary.stop());
  const secondary = await startSystem(dir, { name: "secondary", identity: SECONDARY });
  cleanups.push(() => secondary.stop());
  const source = await startNbdkit(sourceFile);
  cleanups.push(async () => source.child.kill());
  const target = await startNbdkit(targetFile);
  cleanups.push(async () => target.child.kill());
  const systems = { primary, secondary };
  await establishPath(systems);
  return { systems, peers: { source, target, sourceFile, targetFile } };
}
