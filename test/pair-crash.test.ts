// SIGKILL (and SIGTERM) of either storage system while a pair copies or mirrors, then a restart on
// the same data dir: the pair comes back by itself once its path is up, sending only what its
// bitmap still holds, and ends byte-identical; with --no-auto-resume it stays suspended with that
// bitmap until a resume. A proxy delays the link so that the copy is still running when the kill
// comes.

import fs from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { faultProxies } from "../src/testing/fault-proxy.js";
import { missingNbdClientsNoticed } from "../src/testing/nbd-clients.js";
import {
  establishPath,
  exportsIdentical as identical,
  cliOk as ok,
  pairInfo,
  servedSystems,
  TRACK,
  waitForPair,
  waitForPathUp,
  writePattern as write,
} from "../src/testing/replication-process.js";
import { CLI_PATH } from "../src/testing/serve-process.js";

const CYLINDERS = 100;
const TRACKS = CYLINDERS * 15;
const systems = servedSystems();
const proxies = faultProxies();
afterEach(() => proxies.closeAll());
afterAll(() => systems.cleanup());

/** A and B with a slow path between them and a copy pair of VOL001 under way. */
async function copyUnderWay() {
  const b = await systems.serve("0000000002", "01B0");
  const a = await systems.serve("0000000001", "01A0");
  const proxy = await proxies.start(b.linkAddress as string);
  await ok(a, "volume", "create", "VOL001", "--cylinders", String(CYLINDERS));
  await ok(b, "volume", "create", "VOL001", "--cylinders", String(CYLINDERS));
  await write(a.nbdUri("VOL001"), 0, TRACKS * TRACK, 0x2b);
  await establishPath(a, {
    ssid: "01A0",
    target: "0000000002.01B0",
    link: `127.0.0.1:${proxy.port}`,
  });
  // Each chunk waits 150 ms: the copy moves a few MiB per second.
  proxy.setDelay(150);
  await ok(a, "pair", "establish", "VOL001", "0000000002.01B0.VOL001", "--mode", "copy");
  await waitForPair(a, "VOL001", (info) => info.tracksOutOfSync < TRACKS - 50);
  return { a, b, proxy, bLink: b.linkAddress as string };
}

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("pair crash").length > 0;

describe.skipIf(skip)("pairs across a SIGKILL", () => {
  it("brings the primary's pair back by itself after its SIGKILL, sending only what was left", async () => {
    const { a, b, proxy } = await copyUnderWay();
    await a.kill();
    proxy.setDelay(0);
    const again = await systems.serve("0000000001", "01A0", { dataDir: a.dataDir });
    const done = await waitForPair(again, "VOL001", (info) => info.state === "duplex");
    expect(done.tracksOutOfSync).toBe(0);
    // The restarted system sent only what its bitmap still held, not the whole volume.
    expect(done.bytesSent).toBeGreaterThan(0);
    expect(done.bytesSent).toBeLessThan(TRACKS * TRACK);
    expect(await identical(again.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("with --no-auto-resume keeps the restarted primary's pair suspended with its bitmap until a resume", async () => {
    const { a, b, proxy } = await copyUnderWay();
    await a.kill();
    proxy.setDelay(0);
    const again = await systems.serve("0000000001", "01A0", {
      dataDir: a.dataDir,
      args: ["--no-auto-resume"],
    });
    await waitForPathUp(again);
    // Auto-resume would have acted within a second or two of the path coming up.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const recovered = await pairInfo(again, "VOL001");
    expect(recovered).toMatchObject({ state: "suspended", reason: "primary restart" });
    expect(recovered.tracksOutOfSync).toBeGreaterThan(0);
    expect(recovered.tracksOutOfSync).toBeLessThan(TRACKS);
    expect(await pairInfo(b, "VOL001")).toMatchObject({ role: "secondary" });
    const resumed = JSON.parse(await ok(again, "pair", "resume", "VOL001", "--wait", "--json"));
    expect(resumed).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
    expect(await identical(again.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("suspends the primary's pair when the secondary dies, and it completes by itself once the secondary is back", async () => {
    const { a, b, proxy, bLink } = await copyUnderWay();
    await b.kill();
    proxy.setDelay(0);
    const failed = await waitForPair(a, "VOL001", (info) => info.state === "suspended");
    expect(failed.reason).toBe("link failure");
    const again = await systems.serve("0000000002", "01B0", {
      dataDir: b.dataDir,
      args: ["--link", bLink],
    });
    expect(await pairInfo(again, "VOL001")).toMatchObject({ role: "secondary" });
    await waitForPair(a, "VOL001", (info) => info.state === "duplex");
    expect(await identical(a.nbdUri("VOL001"), again.nbdUri("VOL001"))).toBe(true);
  });

  it("keeps a sync pair duplex across a SIGTERM of its primary and a SIGKILL of its secondary, writes between them mirrored", async () => {
    const b = await systems.serve("0000000002", "01B0");
    const bLink = b.linkAddress as string;
    const a = await systems.serve("0000000001", "01A0");
    await ok(a, "volume", "create", "VOL001", "--cylinders", "10");
    await ok(b, "volume", "create", "VOL001", "--cylinders", "10");
    await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link: bLink });
    await ok(a, "pair", "establish", "VOL001", "0000000002.01B0.VOL001", "--mode", "sync");
    await waitForPair(a, "VOL001", (info) => info.state === "duplex");
    await write(a.nbdUri("VOL001"), 0, 20 * TRACK, 0x11);

    await a.stop();
    const a2 = await systems.serve("0000000001", "01A0", { dataDir: a.dataDir });
    await waitForPair(a2, "VOL001", (info) => info.state === "duplex");
    await write(a2.nbdUri("VOL001"), 5 * TRACK + 4096, 4096, 0x22);
    expect(await identical(a2.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);

    await b.kill();
    // The secondary is gone: the next write suspends the pair and goes on here.
    await write(a2.nbdUri("VOL001"), 7 * TRACK, 3 * TRACK, 0x33);
    expect(await pairInfo(a2, "VOL001")).toMatchObject({
      state: "suspended",
      reason: "link failure",
    });
    const b2 = await systems.serve("0000000002", "01B0", {
      dataDir: b.dataDir,
      args: ["--link", bLink],
    });
    const back = await waitForPair(a2, "VOL001", (info) => info.state === "duplex");
    expect(back.tracksOutOfSync).toBe(0);
    expect(await identical(a2.nbdUri("VOL001"), b2.nbdUri("VOL001"))).toBe(true);
  });
});
