// Replication paths between two real `gsnap serve` processes, driven through the CLI: a path from
// A to B is established, fails when B stops, comes back when B restarts on the same data dir and
// link port, and is removed.

import fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { CLI_PATH, type ServeProcess, startServe } from "../src/testing/serve-process.js";

/** B's restart and A's backoff (at most 10 s between attempts) fit well within this. */
const STATE_TIMEOUT_MS = 25_000;
const SECRET = "s3cret";

const servers: ServeProcess[] = [];

afterAll(async () => {
  for (const server of servers) {
    await server.stop();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  }
});

async function serve(args: string[], dataDir?: string): Promise<ServeProcess> {
  const server = await startServe({ dataDir, args: [...args, "--link-secret", SECRET] });
  servers.push(server);
  return server;
}

async function pathStates(server: ServeProcess): Promise<string[]> {
  const listed = await server.cli("path", "list", "--json");
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout).map((path: { state: string }) => path.state);
}

async function waitForState(server: ServeProcess, state: string): Promise<void> {
  const started = Date.now();
  let states: string[] = [];
  while (Date.now() - started < STATE_TIMEOUT_MS) {
    states = await pathStates(server);
    if (states[0] === state) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the path did not become ${state}; it is ${states.join(", ")}`);
}

describe.skipIf(!fs.existsSync(CLI_PATH))("paths between two real servers", () => {
  it("establish, fail when the remote stops, come back when it restarts, and are removed", async () => {
    const b = await serve(["--serial", "0000000002", "--ssid", "01B0", "--link", "127.0.0.1:0"]);
    const a = await serve(["--serial", "0000000001", "--ssid", "01A0", "--link", "127.0.0.1:0"]);
    const bLink = b.linkAddress as string;
    expect(bLink).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.output()).toMatch(/LINK {2}127\.0\.0\.1:\d+ {2}\(peer links, TCP\)/);

    const to = "0000000002.01B0";
    const made = await a.cli(
      "path",
      "establish",
      "--ssid",
      "01A0",
      "--to",
      to,
      "--link",
      bLink,
      "--json",
    );
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({
      ssid: "01A0",
      remoteSerial: "0000000002",
      remoteSsid: "01B0",
      state: "established",
      links: [{ address: bLink, state: "established" }],
    });
    expect(await pathStates(a)).toEqual(["established"]);
    const table = await a.cli("path", "list");
    expect(table.stdout).toMatch(/01A0\s+0000000002\.01B0\s+established/);

    const again = await a.cli("path", "establish", "--ssid", "01A0", "--to", to, "--link", bLink);
    expect(again.code).toBe(ERROR_CODES.PATH_EXISTS.exitCode);
    expect(again.stderr).toMatch(/^gsnap: PATH_EXISTS: Cannot establish a path/);

    // A path to a serial that is not the one at the address: no path is kept, the reason is said.
    const wrong = ["path", "establish", "--ssid", "01A0", "--to", "0000000009.01B0"];
    const refused = await a.cli(...wrong, "--link", bLink);
    expect(refused.code).toBe(ERROR_CODES.PATH_FAILED.exitCode);
    expect(refused.stderr).toContain(
      `gsnap: PATH_FAILED: Cannot establish a path from 01A0 to 0000000009.01B0: no link came up (${bLink}: wrong serial)`,
    );
    expect(await pathStates(a)).toEqual(["established"]);
    // --no-wait keeps it, failed, its link trying again, and warns.
    const kept = await a.cli(...wrong, "--link", bLink, "--no-wait");
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stderr).toContain(`gsnap: warning: link ${bLink} is down: wrong serial`);
    expect(await pathStates(a)).toEqual(["established", "failed"]);
    const dropped = await a.cli("path", "remove", "--ssid", "01A0", "--to", "0000000009.01B0");
    expect(dropped.code, dropped.stderr).toBe(0);

    expect(await b.stop()).toBe(0);
    await waitForState(a, "failed");

    await serve(["--serial", "0000000002", "--ssid", "01B0", "--link", bLink], b.dataDir);
    await waitForState(a, "established");

    const removed = await a.cli("path", "remove", "--ssid", "01A0", "--to", to, "--json");
    expect(removed.code, removed.stderr).toBe(0);
    expect(await pathStates(a)).toEqual([]);
    const gone = await a.cli("path", "remove", "--ssid", "01A0", "--to", to);
    expect(gone.code).toBe(ERROR_CODES.PATH_NOT_FOUND.exitCode);
  });
});
