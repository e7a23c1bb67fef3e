// Pairs between two real `gsnap serve` processes over loopback, driven through the CLI, with
// real NBD clients reading and writing both systems: set-up and tear-down, the initial copy
// byte-identical, sync writes on the secondary when acknowledged, the secondary read-only to
// hosts, and suspend, write, resume sending only the changed tracks.

import fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { missingNbdClientsNoticed } from "../src/testing/nbd-clients.js";
import {
  establishPair,
  establishPath,
  exportsIdentical as identical,
  cliOk as ok,
  pairInfo,
  servedSystems,
  TRACK,
  writePattern as write,
} from "../src/testing/replication-process.js";
import { CLI_PATH } from "../src/testing/serve-process.js";
import { makeTestCertificate } from "../src/testing/tls-cert.js";

const CYLINDERS = 20;
const systems = servedSystems();
afterAll(() => systems.cleanup());

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("pair e2e").length > 0;

describe.skipIf(skip)("pairs between two real servers", () => {
  it("copy, sync mirroring, a read-only secondary, suspend and resume through the CLI", async () => {
    const b = await systems.serve("0000000002", "01B0");
    const a = await systems.serve("0000000001", "01A0");
    for (const volser of ["VOL001", "VOL002"]) {
      await ok(a, "volume", "create", volser, "--cylinders", String(CYLINDERS));
      await ok(b, "volume", "create", volser, "--cylinders", String(CYLINDERS));
    }
    await write(a.nbdUri("VOL001"), 0, 40 * TRACK, 0x5a);
    await write(a.nbdUri("VOL001"), 100 * TRACK + 512, 4096, 0x11);
    const link = b.linkAddress as string;
    await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link });

    // The initial copy of a copy pair, waited for with --wait.
    const established = await establishPair(a, {
      volser: "VOL001",
      secondary: "0000000002.01B0.VOL001",
      mode: "copy",
    });
    expect(established).toMatchObject({
      role: "primary",
      state: "duplex",
      tracksOutOfSync: 0,
      bytesSent: 41 * TRACK,
    });
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
    const secondary = await pairInfo(b, "VOL001");
    expect(secondary).toMatchObject({ role: "secondary", primary: "0000000001.01A0.VOL001" });
    const listed = await ok(a, "pair", "list");
    expect(listed).toMatch(
      /VOL001\s+primary\s+0000000001\.01A0\.VOL001\s+0000000002\.01B0\.VOL001\s+copy\s+duplex/,
    );

    // The secondary refuses host writes over NBD, and deleting it.
    await expect(write(b.nbdUri("VOL001"), 0, 4096, 0x77)).rejects.toThrow();
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
    const refusedDelete = await b.cli("volume", "delete", "VOL001");
    expect(refusedDelete.code).toBe(ERROR_CODES.PAIR_EXISTS.exitCode);

    // A sync pair: each acknowledged write is on the secondary at once.
    await establishPair(a, { volser: "VOL002", secondary: "0000000002.01B0.VOL002", mode: "sync" });
    for (let i = 0; i < 5; i += 1) {
      await write(a.nbdUri("VOL002"), i * 3 * TRACK + 4096, 4096, 0x30 + i);
      expect(await identical(a.nbdUri("VOL002"), b.nbdUri("VOL002"))).toBe(true);
    }

    // Suspend, write three tracks, resume: exactly those cross.
    const suspended = JSON.parse(await ok(a, "pair", "suspend", "VOL002", "--json"));
    expect(suspended).toMatchObject({ state: "suspended", reason: "operator" });
    expect(await pairInfo(b, "VOL002")).toMatchObject({ state: "suspended", reason: "operator" });
    await write(a.nbdUri("VOL002"), 200 * TRACK, 2 * TRACK, 0x66);
    await write(a.nbdUri("VOL002"), 250 * TRACK + 100, 10, 0x67);
    const before = await pairInfo(a, "VOL002");
    expect(before.tracksOutOfSync).toBe(3);
    expect(await identical(a.nbdUri("VOL002"), b.nbdUri("VOL002"))).toBe(false);
    const resumed = JSON.parse(await ok(a, "pair", "resume", "VOL002", "--wait", "--json"));
    expect(resumed).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
    expect(resumed.bytesSent - before.bytesSent).toBe(3 * TRACK);
    expect(await identical(a.nbdUri("VOL002"), b.nbdUri("VOL002"))).toBe(true);

    // Errors through the CLI.
    const again = await a.cli("pair", "resume", "VOL002");
    expect(again.code).toBe(ERROR_CODES.PAIR_STATE_INVALID.exitCode);
    expect(again.stderr).toMatch(
      /^gsnap: PAIR_STATE_INVALID: Cannot resume the pair of VOL002: it is duplex/,
    );

    // Terminate: both sides forget the pair; the secondary takes host writes again.
    await ok(a, "pair", "terminate", "VOL001");
    await ok(a, "pair", "terminate", "VOL002");
    expect(JSON.parse(await ok(a, "pair", "list", "--json"))).toEqual([]);
    expect(JSON.parse(await ok(b, "pair", "list", "--json"))).toEqual([]);
    await write(b.nbdUri("VOL001"), 0, 4096, 0x77);
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(false);
  });
});

describe.skipIf(skip)("pairs over TLS links", () => {
  it("copy over a TLS path; a system speaking plain TCP gets no link to the TLS listener", async () => {
    const cert = makeTestCertificate();
    const tls = [
      "--link-cert",
      cert.certPath,
      "--link-key",
      cert.keyPath,
      "--link-ca",
      cert.certPath,
    ];
    try {
      const b = await systems.serve("0000000002", "01B0", { args: tls });
      const a = await systems.serve("0000000001", "01A0", { args: tls });
      expect(b.output()).toMatch(/LINK {2}127\.0\.0\.1:\d+ {2}\(peer links, TLS\)/);
      await ok(a, "volume", "create", "VOL001", "--cylinders", "5");
      await ok(b, "volume", "create", "VOL001", "--cylinders", "5");
      await write(a.nbdUri("VOL001"), 0, 20 * TRACK, 0x29);
      const link = b.linkAddress as string;
      await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link });
      await establishPair(a, {
        volser: "VOL001",
        secondary: "0000000002.01B0.VOL001",
        mode: "copy",
      });
      expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);

      // Plain TCP against the TLS listener, with the secret: the link never comes up, and no
      // path is kept.
      const c = await systems.serve("0000000003", "01C0");
      const made = await c.cli(
        "path",
        "establish",
        "--ssid",
        "01C0",
        "--to",
        "0000000002.01B0",
        "--link",
        link,
      );
      expect(made.code).toBe(ERROR_CODES.PATH_FAILED.exitCode);
      expect(made.stderr).toContain(`no link came up (${link}: down)`);
      expect(JSON.parse(await ok(c, "path", "list", "--json"))).toEqual([]);
    } finally {
      fs.rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});
