// Test support for replication between real `gsnap serve` processes: start a system with a link
// listener, run CLI commands that must succeed, establish a path and a pair, poll until a state is
// reached, write over NBD with qemu-io, and compare two exports with qemu-img.

import fs from "node:fs";
import { expect } from "vitest";
import { DEFAULT_TRACK_SIZE_BYTES } from "../geometry/geometry.js";
import { NbdClient } from "../nbd/nbd-client.js";
import { qemuImg, qemuIo } from "./nbd-clients.js";
import { type ServeProcess, startServe } from "./serve-process.js";

export const LINK_SECRET = "replication-test-secret";
export const TRACK = DEFAULT_TRACK_SIZE_BYTES;

export interface ServedSystems {
  /** Starts a system with a link listener (port 0 unless `--link` is in `args`). */
  serve(
    serial: string,
    ssid: string,
    options?: { args?: string[]; dataDir?: string; env?: NodeJS.ProcessEnv },
  ): Promise<ServeProcess>;
  /** Stops every system started and deletes its data dir. */
  cleanup(): Promise<void>;
}

export function servedSystems(): ServedSystems {
  const servers: ServeProcess[] = [];
  return {
    async serve(serial, ssid, options = {}) {
      const args = options.args ?? [];
      const server = await startServe({
        dataDir: options.dataDir,
        env: options.env,
        args: [
          "--serial",
          serial,
          "--ssid",
          ssid,
          ...(args.includes("--link") ? [] : ["--link", "127.0.0.1:0"]),
          "--link-secret",
          LINK_SECRET,
          ...args,
        ],
      });
      servers.push(server);
      return server;
    },
    async cleanup() {
      for (const server of servers.splice(0)) {
        await server.kill();
        fs.rmSync(server.dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs a CLI command that must succeed; returns its stdout. */
export async function cliOk(server: ServeProcess, ...args: string[]): Promise<string> {
  const result = await server.cli(...args);
  expect(result.code, `gsnap ${args.join(" ")}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/**
 * Establishes a path from `source`, as its subsystem `ssid`, to the subsystem `target`
 * ("SERIAL.SSID") over `link`: the target's own link address, or proxies in front of it
 * ("HOST:PORT", comma-separated for more than one link).
 */
export async function establishPath(
  source: ServeProcess,
  options: { ssid: string; target: string; link: string },
): Promise<string> {
  const { ssid, target, link } = options;
  return cliOk(source, "path", "establish", "--ssid", ssid, "--to", target, "--link", link);
}

/**
 * Establishes a pair of `volser` on `source` onto `secondary` ("SERIAL.SSID.VOLSER") in `mode`
 * and waits for it to be duplex; answers the pair as `pair establish --json` prints it.
 */
export async function establishPair(
  source: ServeProcess,
  options: { volser: string; secondary: string; mode: "copy" | "sync" },
  // biome-ignore lint/suspicious/noExplicitAny: as pairInfo.
): Promise<any> {
  const { volser, secondary, mode } = options;
  const args = ["pair", "establish", volser, secondary, "--mode", mode, "--wait", "--json"];
  return JSON.parse(await cliOk(source, ...args));
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the pair's JSON as the API gives it.
export async function pairInfo(server: ServeProcess, volser: string): Promise<any> {
  return JSON.parse(await cliOk(server, "pair", "show", volser, "--json"));
}

/** Calls `read` until `done` holds of its answer; fails with `what` and the last answer after `timeoutMs`. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${options.what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** Polls `pair show` until `until` holds; fails with the last state after `timeoutMs`. */
export async function waitForPair(
  server: ServeProcess,
  volser: string,
  // biome-ignore lint/suspicious/noExplicitAny: as pairInfo.
  until: (info: any) => boolean,
  timeoutMs = 30_000,
  // biome-ignore lint/suspicious/noExplicitAny: as pairInfo.
): Promise<any> {
  return pollUntil(() => pairInfo(server, volser), until, {
    what: `pair ${volser} never got there`,
    timeoutMs,
  });
}

/** qemu-img compare: true when the two exports hold the same bytes. */
export async function exportsIdentical(a: string, b: string): Promise<boolean> {
  try {
    await qemuImg(["compare", "-f", "raw", "-F", "raw", a, b]);
    return true;
  } catch {
    return false;
  }
}

/** Writes `length` bytes of `pattern` at `offset` with qemu-io. */
export function writePattern(uri: string, offset: number, length: number, pattern: number) {
  return qemuIo(["-f", "raw", "-c", `write -P ${pattern} ${offset} ${length}`, uri]);
}

/** Waits until the server's first path is established again (after a restart or a cut link). */
export async function waitForPathUp(server: ServeProcess, timeoutMs = 20_000): Promise<void> {
  await pollUntil(
    async () => JSON.parse(await cliOk(server, "path", "list", "--json"))[0],
    (path) => path?.state === "established",
    { what: "the path did not come back", timeoutMs, intervalMs: 200 },
  );
}

/** `tracks` tracks of an export from `firstTrack`, read over NBD with gsnap's own client. */
export async function readTracks(
  server: ServeProcess,
  volser: string,
  firstTrack: number,
  tracks: number,
): Promise<Buffer> {
  const client = await NbdClient.connect({ host: server.nbdHost, port: server.nbdPort }, volser);
  try {
    return await client.read(firstTrack * TRACK, tracks * TRACK);
  } finally {
    await client.close();
  }
}

/** What a job or a pair left on `servers`: their pairs and their allocated (`#`) volumes. */
export async function leftovers(...servers: ServeProcess[]): Promise<string[]> {
  const all: string[] = [];
  for (const server of servers) {
    const pairs = JSON.parse(await cliOk(server, "pair", "list", "--json"));
    const volumes = JSON.parse(await cliOk(server, "volume", "list", "--json"));
    all.push(
      ...pairs.map((pair: { volser: string }) => `pair ${pair.volser}`),
      ...volumes
        .filter((volume: { volser: string }) => volume.volser.startsWith("#"))
        .map((volume: { volser: string }) => `volume ${volume.volser}`),
    );
  }
  return all;
}
