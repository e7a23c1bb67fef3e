// PathManager against real link listeners on 127.0.0.1 in this process: states and reasons,
// persistence in paths.json, and reconnection when the remote listener comes back.

import fs from "node:fs";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type LinkListener, listenLink } from "../link/link-listener.js";
import { silentLinkLogger } from "../link/link-logger.js";
import { codeOfAsync } from "../testing/error-code.js";
import { PATH_FILE_NAME } from "./path-file.js";
import { PathManager, type PathManagerOptions } from "./path-manager.js";
import type { PathInfo } from "./path-state.js";
import { serveLinkRequests } from "./serve-link-requests.js";

const SECRET = "s3cret";
const REMOTE_SERIAL = "0000000002";
/** Short waits so that failures and reconnections happen within a test's second. */
const FAST = { pingIntervalMs: 100, pingTimeoutMs: 500, backoffMinMs: 20, backoffMaxMs: 100 };
/** A state a test waits for must come within this; the fast timing needs far less. */
const WAIT_TIMEOUT_MS = 5_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function remote(
  options: { port?: number; secret?: string; silent?: boolean } = {},
): Promise<LinkListener> {
  const listener = await listenLink({
    host: "127.0.0.1",
    port: options.port ?? 0,
    secret: options.secret ?? SECRET,
    serial: REMOTE_SERIAL,
    ssids: ["01B0", "01B1"],
    logger: silentLinkLogger,
    // A silent remote takes the connection but never answers a PING.
    onConnection: (connection) => {
      if (!options.silent) void serveLinkRequests(connection);
    },
  });
  cleanups.push(() => listener.close());
  return listener;
}

/** A port where nothing listens: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-paths-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function manager(options: Partial<PathManagerOptions> = {}): Promise<PathManager> {
  const opened = await PathManager.open({
    dataDir: options.dataDir ?? tempDir(),
    serial: "0000000001",
    ssids: ["01A0", "01A1"],
    secret: SECRET,
    timing: FAST,
    serve: (connection) => serveLinkRequests(connection),
    ...options,
  });
  cleanups.push(() => opened.close());
  return opened;
}

function at(listener: LinkListener): string {
  return `127.0.0.1:${listener.address.port}`;
}

async function waitForState(paths: PathManager, state: PathInfo["state"]): Promise<PathInfo> {
  const started = Date.now();
  while (Date.now() - started < WAIT_TIMEOUT_MS) {
    const [first] = paths.list();
    if (first?.state === state) return first;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the path did not become ${state}: ${JSON.stringify(paths.list())}`);
}

describe("PathManager", () => {
  it("establishes a path whose links all reach the remote subsystem", async () => {
    const listener = await remote();
    const paths = await manager();
    const path = await paths.establish({
      ssid: "01A0",
      to: `${REMOTE_SERIAL}.01B1`,
      links: [at(listener)],
    });
    expect(path).toMatchObject({
      ssid: "01A0",
      remoteSerial: REMOTE_SERIAL,
      remoteSsid: "01B1",
      state: "established",
      links: [{ address: at(listener), state: "established" }],
    });
    expect(paths.list()).toEqual([path]);
  });

  it("calls a path with one link to a closed port degraded, the link refused", async () => {
    const listener = await remote();
    const paths = await manager();
    const closed = `127.0.0.1:${await closedPort()}`;
    const path = await paths.establish({
      ssid: "01A0",
      to: `${REMOTE_SERIAL}.01B0`,
      links: [at(listener), closed],
    });
    expect(path.state).toBe("degraded");
    expect(path.links[0]).toMatchObject({ state: "established" });
    expect(path.links[1]).toMatchObject({ address: closed, state: "failed", reason: "refused" });
  });

  it.each([
    ["refused", async () => `127.0.0.1:${await closedPort()}`, REMOTE_SERIAL, "01B0"],
    [
      "authentication failed",
      async () => at(await remote({ secret: "other" })),
      REMOTE_SERIAL,
      "01B0",
    ],
    ["wrong serial", async () => at(await remote()), "0000000009", "01B0"],
    ["unknown SSID", async () => at(await remote()), REMOTE_SERIAL, "01C0"],
  ])(
    "refuses with PATH_FAILED, keeping nothing, a path whose only link is %s, and keeps it when asked",
    async (reason, address, serial, ssid) => {
      const paths = await manager();
      const request = { ssid: "01A0", to: `${serial}.${ssid}`, links: [await address()] };
      const error = await paths.establish(request).then(
        () => undefined,
        (failure: unknown) => failure as { code?: string; message?: string },
      );
      expect(error?.code).toBe("PATH_FAILED");
      expect(error?.message).toContain(`${request.links[0]}: ${reason}`);
      expect(paths.list()).toEqual([]);
      const kept = await paths.establish({ ...request, keepFailed: true });
      expect(kept.state).toBe("failed");
      expect(kept.links[0]).toMatchObject({ state: "failed", reason });
      expect(paths.list()).toHaveLength(1);
    },
  );

  it("keeps paths in paths.json and connects them again in a new manager", async () => {
    const listener = await remote();
    const dataDir = tempDir();
    const first = await manager({ dataDir });
    await first.establish({ ssid: "01A1", to: `${REMOTE_SERIAL}.01B0`, links: [at(listener)] });
    await first.close();
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, PATH_FILE_NAME), "utf8")).paths).toEqual([
      { ssid: "01A1", remoteSerial: REMOTE_SERIAL, remoteSsid: "01B0", links: [at(listener)] },
    ]);
    const second = await manager({ dataDir });
    expect(second.list()).toHaveLength(1);
    expect((await waitForState(second, "established")).ssid).toBe("01A1");
  });

  it("fails a path when the remote goes away and establishes it again when it comes back", async () => {
    const listener = await remote();
    const port = listener.address.port;
    const paths = await manager();
    await paths.establish({ ssid: "01A0", to: `${REMOTE_SERIAL}.01B0`, links: [at(listener)] });
    await listener.close();
    const failed = await waitForState(paths, "failed");
    expect(["down", "refused"]).toContain(failed.links[0].reason);
    await remote({ port });
    const back = await waitForState(paths, "established");
    expect(back.links[0].reason).toBeUndefined();
  });

  it("fails a link whose remote stops answering PINGs, as timed out", async () => {
    const listener = await remote({ silent: true });
    const paths = await manager();
    const path = await paths.establish({
      ssid: "01A0",
      to: `${REMOTE_SERIAL}.01B0`,
      links: [at(listener)],
    });
    expect(path.state).toBe("established");
    const failed = await waitForState(paths, "failed");
    expect(failed.links[0].reason).toBe("timed out");
  });

  it("refuses to open a paths.json that is not a path list", async () => {
    const dataDir = tempDir();
    for (const text of ["{", '{"format":1,"paths":[{"ssid":"01A0"}]}', '{"format":2,"paths":[]}']) {
      fs.writeFileSync(path.join(dataDir, PATH_FILE_NAME), text);
      expect(
        await codeOfAsync(() =>
          PathManager.open({ dataDir, serial: "1", ssids: ["01A0"], serve: serveLinkRequests }),
        ),
      ).toBe("STORE_FORMAT");
    }
  });

  it("lists but does not connect kept paths without a secret, and refuses new ones with LINK_SECRET_MISSING", async () => {
    const listener = await remote();
    const dataDir = tempDir();
    const first = await manager({ dataDir });
    await first.establish({ ssid: "01A0", to: `${REMOTE_SERIAL}.01B0`, links: [at(listener)] });
    await first.close();
    const paths = await manager({ dataDir, secret: undefined });
    expect(paths.list()[0]).toMatchObject({
      state: "failed",
      links: [{ state: "failed", reason: "no link secret" }],
    });
    const request = { ssid: "01A1", to: `${REMOTE_SERIAL}.01B0`, links: [at(listener)] };
    expect(await codeOfAsync(() => paths.establish(request))).toBe("LINK_SECRET_MISSING");
  });

  it("refuses a second path between the same subsystems with PATH_EXISTS", async () => {
    const paths = await manager();
    const request = {
      ssid: "01A0",
      to: `${REMOTE_SERIAL}.01B0`,
      links: [`127.0.0.1:${await closedPort()}`],
      keepFailed: true,
    };
    await paths.establish(request);
    expect(await codeOfAsync(() => paths.establish(request))).toBe("PATH_EXISTS");
  });

  it("removes a path and its entry in paths.json, then refuses to remove it again with PATH_NOT_FOUND", async () => {
    const listener = await remote();
    const dataDir = tempDir();
    const paths = await manager({ dataDir });
    const to = `${REMOTE_SERIAL}.01B0`;
    await paths.establish({ ssid: "01A0", to, links: [at(listener)] });
    await paths.remove({ ssid: "01a0", to });
    expect(paths.list()).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, PATH_FILE_NAME), "utf8")).paths).toEqual(
      [],
    );
    expect(await codeOfAsync(() => paths.remove({ ssid: "01A0", to }))).toBe("PATH_NOT_FOUND");
  });
});
