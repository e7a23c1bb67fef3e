// Peers prove who they are (issue 15), against a real `gsnap serve` that keeps a secret per peer:
// fake peers with valid secrets for one serial try to be another, or to reach another system's
// jobs and volumes, and are refused and logged; reservations are listed, released by the command
// and released by expiry.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { connectLink } from "../src/link/connect-link.js";
import { ControlOp, NackReason, WirePairMode } from "../src/link/frame-types.js";
import type { LinkConnection } from "../src/link/link-connection.js";
import { codeOfAsync } from "../src/testing/error-code.js";
import { CLI_PATH, type ServeProcess, startServe } from "../src/testing/serve-process.js";

const A = "0000000001";
const B = "0000000002";
const C = "0000000003";
const TRACK = 57_344;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-peer-trust-"));
const servers: ServeProcess[] = [];
afterAll(async () => {
  for (const server of servers) {
    await server.kill();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function secretFile(name: string, secret: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return file;
}

/** System B: knows A and C, each by its own secret; no shared secret. */
async function serveB(args: string[] = []): Promise<ServeProcess> {
  const server = await startServe({
    args: [
      ...["--serial", B, "--ssid", "01B0", "--link", "127.0.0.1:0"],
      ...["--link-peer", `${A}:${secretFile("a.secret", "secret-of-a")}`],
      ...["--link-peer", `${C}:${secretFile("c.secret", "secret-of-c")}`],
      ...args,
    ],
  });
  servers.push(server);
  return server;
}

function peer(server: ServeProcess, options: { serial: string; secret: string }) {
  const [host, port] = (server.linkAddress as string).split(":");
  return connectLink({
    host,
    port: Number(port),
    expectSerial: B,
    ssids: ["01A0"],
    ...options,
  });
}

/** Sends a CONTROL request and answers its RESULT's body. */
async function control(
  connection: LinkConnection,
  op: keyof typeof ControlOp,
  body: object,
): Promise<{ ok: boolean; code?: string; message?: string; [key: string]: unknown }> {
  const reply = await connection.request({
    type: "CONTROL",
    op: ControlOp[op],
    body: JSON.stringify(body),
  });
  expect(reply.type).toBe("RESULT");
  return JSON.parse((reply as { body: string }).body);
}

async function reservations(server: ServeProcess): Promise<Record<string, unknown>[]> {
  const result = await server.cli("reservation", "list", "--json");
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

describe.skipIf(!fs.existsSync(CLI_PATH))("peers prove who they are", () => {
  it("refuses at the handshake a peer claiming a serial it holds no secret of, or ours", async () => {
    const b = await serveB();
    const asC = await peer(b, { serial: C, secret: "secret-of-c" });
    expect(asC.linkSession.peerSerial).toBe(B);
    asC.close();
    // C's valid secret, but claiming another serial: one B has no entry for, and A.
    expect(await codeOfAsync(() => peer(b, { serial: "0000000009", secret: "secret-of-c" }))).toBe(
      "LINK_AUTH_FAILED",
    );
    await expect
      .poll(() => b.output(), { timeout: 5_000 })
      .toMatch(/no link secret is configured for serial \\?"0000000009\\?"/);
    expect(await codeOfAsync(() => peer(b, { serial: A, secret: "secret-of-c" }))).toBe(
      "LINK_AUTH_FAILED",
    );
    await expect
      .poll(() => b.output(), { timeout: 5_000 })
      .toMatch(/peer \\?"0000000001\\?" did not prove the link secret/);
    // B's own serial, whatever the secret.
    expect(await codeOfAsync(() => peer(b, { serial: B, secret: "secret-of-c" }))).toBe(
      "LINK_WRONG_SERIAL",
    );
  });

  it("refuses requests about another system's job or volume, and RESERVE in an SSID it has not", async () => {
    const b = await serveB();
    const created = await b.cli("volume", "create", "VOL900", "--ssid", "01B0", "--cylinders", "2");
    expect(created.code, created.stderr).toBe(0);
    const c = await peer(b, { serial: C, secret: "secret-of-c" });
    const a = await peer(b, { serial: A, secret: "secret-of-a" });
    const create = { cylinders: 2, trackSizeBytes: TRACK };

    // An SSID this system does not have: refused, and no volume made.
    const ffff = await control(c, "RESERVE", { job: "J000001", ssid: "FFFF", create });
    expect(ffff).toMatchObject({ ok: false, code: "SSID_INVALID" });
    expect(JSON.parse((await b.cli("volume", "list", "--json")).stdout)).toHaveLength(1);

    // C names a job of system A: refused and logged.
    const foreign = await control(c, "RESERVE", {
      job: "J000001",
      serial: A,
      ssid: "01B0",
      volser: "VOL900",
    });
    expect(foreign).toMatchObject({ ok: false, code: "PEER_FORBIDDEN" });
    await expect
      .poll(() => b.output(), { timeout: 5_000 })
      .toMatch(/PEER_FORBIDDEN.*Cannot take RESERVE for job J000001 of system 0000000001/);

    // C's own job reserves VOL900; A's job of the same id can use none of it.
    const mine = { job: "J000001", serial: C };
    expect(await control(c, "RESERVE", { ...mine, ssid: "01B0", volser: "VOL900" })).toEqual({
      ok: true,
      volser: "VOL900",
    });
    const ofA = { job: "J000001", serial: A };
    const snap = { source: "VOL900:0.0-0.14", target: "VOL900:1.0-1.14" };
    expect(await control(a, "SNAP", { ...ofA, ...snap })).toMatchObject({
      ok: false,
      code: "PEER_FORBIDDEN",
    });
    expect(
      await control(a, "CHECKSUMS", { ...ofA, volser: "VOL900", runs: [[0, 1]] }),
    ).toMatchObject({ ok: false, code: "PEER_FORBIDDEN" });
    expect(await control(a, "RELEASE", mine)).toMatchObject({ ok: false, code: "PEER_FORBIDDEN" });
    const open = {
      type: "PAIR_OPEN" as const,
      primarySsid: "01A0",
      primaryVolser: "VOL001",
      secondarySsid: "01B0",
      secondaryVolser: "VOL900",
      mode: WirePairMode.copy,
      trackCount: 30,
      trackSizeBytes: TRACK,
      options: 0,
    };
    expect(await a.request(open)).toMatchObject({ type: "NACK", reason: NackReason.BUSY });
    await expect
      .poll(() => b.output(), { timeout: 5_000 })
      .toMatch(/refused PAIR_OPEN: another system's job holds the volume/);
    // Still C's, untouched.
    expect(await reservations(b)).toMatchObject([{ job: "J000001", peer: C, volser: "VOL900" }]);
    expect(await control(c, "CHECKSUMS", { ...mine, volser: "VOL900", runs: [[0, 1]] })).toEqual({
      ok: true,
      checksums: Buffer.alloc(8).toString("base64"),
    });
    a.close();
    c.close();
  });

  it("lists reservations with job, peer, volume and since, and releases them by the command", async () => {
    const b = await serveB();
    const c = await peer(b, { serial: C, secret: "secret-of-c" });
    const before = Date.now();
    const reserved = await control(c, "RESERVE", {
      job: "J000005",
      serial: C,
      ssid: "01B0",
      create: { cylinders: 2, trackSizeBytes: TRACK },
    });
    expect(reserved.ok).toBe(true);
    const volser = reserved.volser as string;
    const [listed] = await reservations(b);
    expect(listed).toMatchObject({ job: "J000005", peer: C, volser, created: true });
    expect(Date.parse(listed.since as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(listed.expiresAt as string)).toBeGreaterThan(Date.now() + 3_000_000);
    const table = await b.cli("reservation", "list");
    expect(table.stdout).toMatch(/JOB\s+PEER\s+VOLSER/);
    expect(table.stdout).toContain(`J000005  ${C}`);

    const released = await b.cli("reservation", "release", volser);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toContain(`released ${volser} of job J000005 of ${C} (deleted)`);
    expect(await reservations(b)).toEqual([]);
    expect((await b.cli("volume", "show", volser)).code).toBe(
      ERROR_CODES.VOLUME_NOT_FOUND.exitCode,
    );
    // Nothing left to release: RESERVATION_NOT_FOUND, by the CLI and the API.
    const again = await b.cli("reservation", "release", volser);
    expect(again.code).toBe(ERROR_CODES.RESERVATION_NOT_FOUND.exitCode);
    expect(again.stderr).toMatch(/RESERVATION_NOT_FOUND/);
    const response = await fetch(`${b.apiUrl}/v1/reservations/VOL901/release`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: "RESERVATION_NOT_FOUND" });
    // The job's own RELEASE now finds nothing, and says so without failing.
    expect(await control(c, "RELEASE", { job: "J000005", serial: C })).toMatchObject({
      ok: true,
      deleted: [],
    });
    c.close();
  });

  it("releases a job's reservations by itself after the timeout without a request of it", async () => {
    const b = await serveB(["--reservation-timeout", "2"]);
    const c = await peer(b, { serial: C, secret: "secret-of-c" });
    const reserved = await control(c, "RESERVE", {
      job: "J000006",
      serial: C,
      ssid: "01B0",
      create: { cylinders: 2, trackSizeBytes: TRACK },
    });
    const volser = reserved.volser as string;
    expect(await reservations(b)).toHaveLength(1);
    await expect.poll(() => reservations(b), { timeout: 15_000, interval: 250 }).toEqual([]);
    expect(b.output()).toMatch(/reservations of job J000006 of system 0000000003 expired/);
    expect((await b.cli("volume", "show", volser)).code).toBe(
      ERROR_CODES.VOLUME_NOT_FOUND.exitCode,
    );
    c.close();
  });
});
