// Pairs between two real `gsnap serve` processes through a fault-injecting TCP proxy that
// corrupts, cuts and delays the link: every copy ends byte-identical, or the pair suspends with a
// reason and a resume makes it identical. Never silently different.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { NbdClient } from "../src/nbd/nbd-client.js";
import { type FaultProxy, faultProxies } from "../src/testing/fault-proxy.js";
import { missingNbdClientsNoticed } from "../src/testing/nbd-clients.js";
import {
  establishPair,
  establishPath,
  exportsIdentical as identical,
  cliOk as ok,
  pairInfo,
  readTracks,
  servedSystems,
  TRACK,
  waitForPair,
  waitForPathUp,
  writePattern as write,
} from "../src/testing/replication-process.js";
import { CLI_PATH, type ServeProcess } from "../src/testing/serve-process.js";

const CYLINDERS = 60;
/** VOL001 on B: the secondary of every pair here. */
const SECONDARY = "0000000002.01B0.VOL001";
const systems = servedSystems();
const proxies = faultProxies();
afterEach(() => proxies.closeAll());
afterAll(() => systems.cleanup());

interface Setup {
  readonly a: ServeProcess;
  readonly b: ServeProcess;
  readonly proxies: FaultProxy[];
}

/**
 * B, then A with a path to B through `links` proxies, and VOL001 on both, A's full of data. A
 * keeps a pair suspended until the test resumes it (--no-auto-resume), so that each fault's
 * suspension can be looked at; pair-crash.test.ts tests pairs that resume by themselves.
 */
async function setup(links: number, aArgs: string[] = []): Promise<Setup> {
  const b = await systems.serve("0000000002", "01B0");
  const a = await systems.serve("0000000001", "01A0", { args: [...aArgs, "--no-auto-resume"] });
  const mine: FaultProxy[] = [];
  for (let i = 0; i < links; i += 1) mine.push(await proxies.start(b.linkAddress as string));
  await ok(a, "volume", "create", "VOL001", "--cylinders", String(CYLINDERS));
  await ok(b, "volume", "create", "VOL001", "--cylinders", String(CYLINDERS));
  await write(a.nbdUri("VOL001"), 0, CYLINDERS * 15 * TRACK, 0x3c);
  const addresses = mine.map((proxy) => `127.0.0.1:${proxy.port}`).join(",");
  await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link: addresses });
  return { a, b, proxies: mine };
}

/** Writes `data` at `offsetBytes` of an export with gsnap's own NBD client: any offset, as is. */
async function writeAt(server: ServeProcess, volser: string, offsetBytes: number, data: Buffer) {
  const client = await NbdClient.connect({ host: server.nbdHost, port: server.nbdPort }, volser);
  try {
    await client.write(offsetBytes, data);
  } finally {
    await client.close();
  }
}

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("pair faults").length > 0;

describe.skipIf(skip)("pairs through a faulty link", () => {
  it("sends damaged tracks again and ends identical", async () => {
    const {
      a,
      b,
      proxies: [proxy],
    } = await setup(1);
    proxy.corruptTrackData(5);
    const done = await establishPair(a, { volser: "VOL001", secondary: SECONDARY, mode: "copy" });
    expect(done.state).toBe("duplex");
    expect(proxy.stats.framesCorrupted).toBe(5);
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("moves the work of a link cut mid-copy to the other link and ends identical", async () => {
    const {
      a,
      b,
      proxies: [first, second],
    } = await setup(2);
    first.cutAfterBytes(4 * 1024 * 1024);
    first.setRefusing(true);
    const done = await establishPair(a, { volser: "VOL001", secondary: SECONDARY, mode: "copy" });
    expect(done.state).toBe("duplex");
    expect(first.stats.connections).toBe(1);
    expect(second.stats.bytesUp).toBeGreaterThan(first.stats.bytesUp);
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("suspends with link failure when every link is cut, and a resume ends identical", async () => {
    const {
      a,
      b,
      proxies: [proxy],
    } = await setup(1);
    proxy.cutAfterBytes(4 * 1024 * 1024);
    const failed = await a.cli(
      "pair",
      "establish",
      "VOL001",
      SECONDARY,
      "--mode",
      "copy",
      "--wait",
    );
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/suspended \(link failure\)/);
    const suspended = await pairInfo(a, "VOL001");
    expect(suspended).toMatchObject({ state: "suspended", reason: "link failure" });
    expect(suspended.tracksOutOfSync).toBeGreaterThan(0);
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(false);
    await waitForPathUp(a);
    await ok(a, "pair", "resume", "VOL001", "--wait");
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("sends a damaged sync piece again: a 4 KiB write at an odd offset lands byte-exact and the pair stays duplex", async () => {
    const {
      a,
      b,
      proxies: [proxy],
    } = await setup(1);
    await establishPair(a, { volser: "VOL001", secondary: SECONDARY, mode: "sync" });
    proxy.corruptTrackData(2);
    const data = randomBytes(4096);
    await writeAt(a, "VOL001", 5 * TRACK + 12_345, data);
    expect(proxy.stats.framesCorrupted).toBe(2);
    expect(await pairInfo(a, "VOL001")).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
    const there = await readTracks(b, "VOL001", 5, 1);
    expect(there.subarray(12_345, 12_345 + 4096).equals(data)).toBe(true);
    expect(there.equals(await readTracks(a, "VOL001", 5, 1))).toBe(true);
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("suspends a sync pair whose pieces arrive damaged every time, and a resume ends identical", async () => {
    const {
      a,
      b,
      proxies: [proxy],
    } = await setup(1);
    await establishPair(a, { volser: "VOL001", secondary: SECONDARY, mode: "sync" });
    // The first send and its 3 resends.
    proxy.corruptTrackData(4);
    await writeAt(a, "VOL001", 9 * TRACK + 3, randomBytes(4096));
    expect(proxy.stats.framesCorrupted).toBe(4);
    expect(await pairInfo(a, "VOL001")).toMatchObject({
      state: "suspended",
      reason: "secondary error",
      tracksOutOfSync: 1,
    });
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(false);
    await ok(a, "pair", "resume", "VOL001", "--wait");
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("suspends a sync pair whose secondary answers too late; host writes go on and resume catches up", async () => {
    const {
      a,
      b,
      proxies: [proxy],
    } = await setup(1, ["--sync-timeout", "300"]);
    await establishPair(a, { volser: "VOL001", secondary: SECONDARY, mode: "sync" });
    proxy.setDelay(1_000);
    await write(a.nbdUri("VOL001"), 5 * TRACK, 4096, 0x71);
    expect(await pairInfo(a, "VOL001")).toMatchObject({
      state: "suspended",
      reason: "link failure",
    });
    proxy.setDelay(0);
    await waitForPathUp(a);
    await ok(a, "pair", "resume", "VOL001", "--wait");
    await waitForPair(a, "VOL001", (info) => info.state === "duplex");
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });
});
