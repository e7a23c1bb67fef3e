// The API's connection limits over real loopback sockets: a cap per client address and in all
// answered with 503 CONNECTION_LIMIT (127.0.0.2 poses as another host), and the request and idle
// timeouts, each counted in /metrics.

import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { PortLimits } from "../daemon/limits-config.js";
import { type ApiUnderTest, startApi, stopApis } from "../testing/api-harness.js";

const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await stopApis();
});

const LIMITS: PortLimits = {
  maxConnections: 3,
  maxPerAddress: 2,
  handshakeTimeoutMs: 30_000,
  idleTimeoutMs: 0,
};

function open(api: ApiUnderTest, localAddress = "127.0.0.1"): Promise<net.Socket> {
  const url = new URL(api.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port), localAddress });
    sockets.push(socket);
    socket.on("error", () => {});
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** One GET on a connection of its own; resolves with the raw response once the server closes. */
async function get(api: ApiUnderTest, route: string, localAddress?: string) {
  const socket = await open(api, localAddress);
  let text = "";
  socket.on("data", (chunk) => {
    text += chunk;
  });
  socket.write(`GET ${route} HTTP/1.1\r\nHost: gsnap\r\nConnection: close\r\n\r\n`);
  await new Promise((resolve) => socket.once("close", resolve));
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  return { status, text, body };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("the condition did not come true in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function counter(api: ApiUnderTest, series: string): Promise<number> {
  const line = (await api.metrics.text()).split("\n").find((row) => row.startsWith(series));
  return Number(line?.split(" ").at(-1));
}

describe("API connection limits", () => {
  it("answers a flooding address 503 CONNECTION_LIMIT while another host is served", async () => {
    const api = await startApi({ limits: LIMITS });
    const limiter = api.limiter;
    if (limiter === undefined) throw new Error("started with limits");
    await open(api);
    await open(api);
    await until(() => limiter.count("api", "127.0.0.1") === 2);
    for (let i = 0; i < 5; i += 1) {
      const refused = await get(api, "/healthz");
      expect(refused.status).toBe(503);
      expect(refused.text.toLowerCase()).toContain("connection: close");
      const body = JSON.parse(refused.body);
      expect(body.code).toBe("CONNECTION_LIMIT");
      expect(body.message).toContain("Cannot accept a connection from 127.0.0.1");
    }
    const served = await get(api, "/healthz", "127.0.0.2");
    expect(served.status).toBe(200);
    const series = 'gsnap_connections_refused_total{listener="api",reason="per_address"}';
    expect(await counter(api, series)).toBe(5);
    // The third slot was given back when that host's connection closed; fill it, then the
    // listener is full for everyone.
    await open(api, "127.0.0.3");
    await until(() => limiter.count("api") === 3);
    expect((await get(api, "/healthz", "127.0.0.2")).status).toBe(503);
    expect(
      await counter(api, 'gsnap_connections_refused_total{listener="api",reason="total"}'),
    ).toBe(1);
  });

  it("closes a connection that does not send its request in time, and counts it", async () => {
    const api = await startApi({ limits: { ...LIMITS, handshakeTimeoutMs: 200 } });
    const slow = await open(api);
    slow.resume(); // reads what comes, so that the close is seen
    slow.write("GET /healthz HTTP/1.1\r\nHost: gs"); // and never the rest
    await new Promise((resolve) => slow.once("close", resolve));
    const series = 'gsnap_connections_timed_out_total{listener="api",phase="handshake"}';
    expect(await counter(api, series)).toBe(1);
  });

  it("closes a connection silent for the idle timeout, and counts it; keep-alive ends uncounted", async () => {
    const api = await startApi({ limits: { ...LIMITS, idleTimeoutMs: 300 } });
    const silent = await open(api);
    silent.resume(); // reads what comes, so that the close is seen
    await new Promise((resolve) => silent.once("close", resolve));
    const series = 'gsnap_connections_timed_out_total{listener="api",phase="idle"}';
    expect(await counter(api, series)).toBe(1);
    // A client answered and then quiet is closed at the keep-alive timeout, which HTTP expects.
    const answered = await open(api);
    let text = "";
    answered.on("data", (chunk) => {
      text += chunk;
    });
    answered.write("GET /healthz HTTP/1.1\r\nHost: gsnap\r\n\r\n");
    await new Promise((resolve) => answered.once("close", resolve));
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(await counter(api, series)).toBe(1);
  });
});
