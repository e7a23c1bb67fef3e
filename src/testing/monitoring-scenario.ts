// The run test/monitoring.test.ts turns into promtool input: two real `gsnap serve` processes
// driven into the states the alert rules are for, and what `GET /metrics` answered in each.

import { expect } from "vitest";
import { ERROR_CODES } from "../errors/codes.js";
import { encodeInfoRequest } from "../nbd/handshake-codec.js";
import { NbdClient } from "../nbd/nbd-client.js";
import { Option, OptionReply } from "../nbd/protocol.js";
import type { FaultProxies } from "./fault-proxy.js";
import { RawNbdClient } from "./nbd-raw-client.js";
import { parseExposition } from "./prometheus-text.js";
import type { ScrapeResult } from "./promtool-series.js";
import {
  establishPair,
  establishPath,
  cliOk as ok,
  pollUntil,
  type ServedSystems,
  TRACK,
} from "./replication-process.js";
import type { ServeProcess } from "./serve-process.js";

/** The path from A to B as the metrics name it. */
export const PATH = "01A0>0000000002.01B0";
/** VOL001 on A and VOL900 on B, the GSC's source and target: big enough for a cut mid-copy. */
const CYLINDERS = 10;
/**
 * A's NBD connections per client address (`--nbd-max-per-address`). Two, not one: the scenario's
 * own writes open one connection after another, and the last one's slot may not be free yet
 * when the next one connects.
 */
const NBD_MAX_PER_ADDRESS = 2;
/** The host that floods A with NBD connections: another address on loopback, as Linux routes it. */
const FLOODING_HOST = "127.0.0.2";

/** Bytes to an export with gsnap's own NBD client, a cylinder per request. */
async function write(server: ServeProcess, volser: string, options: { tracks: number }) {
  const client = await NbdClient.connect({ host: server.nbdHost, port: server.nbdPort }, volser);
  try {
    for (let track = 0; track < options.tracks; track += 15) {
      const count = Math.min(15, options.tracks - track);
      await client.write(track * TRACK, Buffer.alloc(count * TRACK, 0x5a + track));
    }
    await client.read(0, TRACK);
  } finally {
    await client.close();
  }
}

/**
 * A host opens one NBD connection more than the cap allows: the last is refused in its handshake
 * (NBD_REP_ERR_POLICY), which A counts in gsnap_connections_refused_total. Every connection is
 * waited for until the server has answered it, so the refusal is counted before the next scrape.
 */
async function floodNbd(server: ServeProcess): Promise<void> {
  const address = { host: server.nbdHost, port: server.nbdPort };
  const clients: RawNbdClient[] = [];
  try {
    for (let i = 0; i < NBD_MAX_PER_ADDRESS; i += 1) {
      clients.push(await RawNbdClient.connect(address, FLOODING_HOST));
      await clients[i].handshake();
    }
    const refused = await RawNbdClient.connect(address, FLOODING_HOST);
    clients.push(refused);
    await refused.handshake();
    const [reply] = await refused.option(
      Option.GO,
      encodeInfoRequest({ name: "VOL002", infos: [] }),
    );
    expect(reply.type, "the connection over the cap was not refused").toBe(OptionReply.ERR_POLICY);
  } finally {
    for (const client of clients) client.destroy();
  }
}

/** What `GET /metrics` answers, as Prometheus scrapes it: with the token, or "down". */
async function scrape(server: ServeProcess): Promise<ScrapeResult> {
  try {
    const reply = await fetch(`${server.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    return reply.ok ? parseExposition(await reply.text()) : "down";
  } catch {
    return "down";
  }
}

function instanceOf(server: ServeProcess): string {
  return new URL(server.apiUrl).host;
}

// biome-ignore lint/suspicious/noExplicitAny: the paths and pairs as the CLI prints them.
async function listed(server: ServeProcess, what: "path" | "pair"): Promise<any[]> {
  return JSON.parse(await ok(server, what, "list", "--json"));
}

/**
 * Two systems driven through the states the alerts are for, scraped after each: A (01A0) with a
 * path to B (01B0) through two proxies, a sync pair VOL002 and a copy pair VOL003; `before` and
 * `healthy` around some host I/O, `degraded` (one link refuses, VOL003 suspended by the operator,
 * a host's NBD connection over A's per-address cap refused),
 * `failed` (the other link cut mid-GSC and refusing: the job failed, B's VOL900 inconsistent, the
 * sync pair suspended with link failure) and `down` (B killed).
 */
export async function runScenario(options: { systems: ServedSystems; proxies: FaultProxies }) {
  const { systems, proxies } = options;
  const b = await systems.serve("0000000002", "01B0");
  const a = await systems.serve("0000000001", "01A0", {
    // A GSC whose link is cut waits for it to come back (3 minutes) before it fails; the
    // scenario's job is to fail while the link refuses, so it waits 2 s.
    env: { GSNAP_TEST_GSC_LINK_WAIT_MS: "2000" },
    args: [
      "--no-auto-resume",
      "--sync-timeout",
      "500",
      "--nbd-max-per-address",
      String(NBD_MAX_PER_ADDRESS),
    ],
  });
  const first = await proxies.start(b.linkAddress as string);
  const second = await proxies.start(b.linkAddress as string);
  for (const [server, large] of [
    [a, "VOL001"],
    [b, "VOL900"],
  ] as const) {
    await ok(server, "volume", "create", large, "--cylinders", String(CYLINDERS));
    for (const volser of ["VOL002", "VOL003"]) {
      await ok(server, "volume", "create", volser, "--cylinders", "1");
    }
  }
  await write(a, "VOL001", { tracks: CYLINDERS * 15 });
  const links = `127.0.0.1:${first.port},127.0.0.1:${second.port}`;
  await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link: links });
  for (const [volser, mode] of [
    ["VOL002", "sync"],
    ["VOL003", "copy"],
  ] as const) {
    await establishPair(a, { volser, secondary: `0000000002.01B0.${volser}`, mode });
  }
  await write(a, "VOL002", { tracks: 2 });
  const scrapes = async () =>
    new Map([
      [instanceOf(a), await scrape(a)],
      [instanceOf(b), await scrape(b)],
    ]);
  const before = await scrapes();
  // Host writes and reads, mirrored by the sync pair: the traffic the rates are recorded for.
  await write(a, "VOL002", { tracks: 6 });
  const healthy = await scrapes();

  await ok(a, "pair", "suspend", "VOL003");
  await floodNbd(a);
  second.setRefusing(true);
  second.cut();
  const degradedPath = { what: "the path did not become degraded" };
  await pollUntil(
    () => listed(a, "path"),
    ([only]) => only?.state === "degraded",
    degradedPath,
  );
  const degraded = await scrapes();

  // The last link is cut mid-copy and refuses: the job fails, VOL900 is left part copied.
  // A batch of tracks is up to 64 tracks (3.5 MiB): the cut lets the first one through.
  first.cutAfterBytes(5 * 1024 * 1024);
  first.setRefusing(true);
  const job = await a.cli("gsc", "VOL001:0.0-9.14, *, 0000000002.01B0.VOL900", "--wait");
  expect(job.code, job.stderr).toBe(ERROR_CODES.GSC_TRANSFER_FAILED.exitCode);
  await write(a, "VOL002", { tracks: 1 });
  await pollUntil(
    async () => ({ paths: await listed(a, "path"), pairs: await listed(a, "pair") }),
    ({ paths, pairs }) =>
      paths[0]?.state === "failed" &&
      pairs.some((pair) => pair.volser === "VOL002" && pair.state === "suspended"),
    { what: "the path did not fail or the sync pair did not suspend" },
  );
  const failed = await scrapes();

  await b.kill();
  const down = await scrapes();
  expect(down.get(instanceOf(b))).toBe("down");
  return { a: instanceOf(a), b: instanceOf(b), before, healthy, degraded, failed, down };
}

export type Scenario = Awaited<ReturnType<typeof runScenario>>;
