// SIGKILL of either storage system in the middle of a pair's initial copy, then a restart on the
// same data dir: the pair's state recovers (suspended, with the bitmap of what is still out of
// sync), and a resume completes to a byte-identical secondary. A proxy delays the link so that
// the copy is still running when the kill comes.

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
  it("recovers the primary's pair suspended with its bitmap, and a resume completes", async () => {
    const { a, b, proxy } = await copyUnderWay();
    await a.kill();
    proxy.setDelay(0);
    const again = await systems.serve("0000000001", "01A0", { dataDir: a.dataDir });
    const recovered = await pairInfo(again, "VOL001");
    expect(recovered).toMatchObject({ state: "suspended", reason: "primary restart" });
    expect(recovered.tracksOutOfSync).toBeGreaterThan(0);
    expect(recovered.tracksOutOfSync).toBeLessThan(TRACKS);
    expect(await pairInfo(b, "VOL001")).toMatchObject({ role: "secondary" });
    await waitForPathUp(again);
    const resumed = JSON.parse(await ok(again, "pair", "resume", "VOL001", "--wait", "--json"));
    expect(resumed).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
    expect(await identical(again.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });

  it("suspends the primary's pair when the secondary dies, and a resume after its restart completes", async () => {
    const { a, b, proxy, bLink } = await copyUnderWay();
    await b.kill();
    proxy.setDelay(0);
    const failed = await waitForPair(a, "VOL001", (info) => info.state === "suspended");
    expect(failed.reason).toBe("link failure");
    const again = await systems.serve("0000000002", "01B0", {
      dataDir: b.dataDir,
      args: ["--link", bLink],
    });
    expect(await pairInfo(again, "VOL001")).toMatchObject({ role: "secondary", state: "pending" });
    await waitForPathUp(a);
    await ok(a, "pair", "resume", "VOL001", "--wait");
    expect(await identical(a.nbdUri("VOL001"), again.nbdUri("VOL001"))).toBe(true);
  });
});
