// The link listener's connection limits over real loopback sockets: a cap per peer address and in
// all (the flood comes from 127.0.0.2, which Linux routes over loopback; the real peer from
// 127.0.0.1), over TCP and TLS, and the handshake and idle timeouts, each counted.

import { rmSync } from "node:fs";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionLimiter } from "../limits/connection-limiter.js";
import { ListenerGate } from "../limits/listener-gate.js";
import { RecordedEvents } from "../testing/recorded-events.js";
import { makeTestCertificate } from "../testing/tls-cert.js";
import { connectLink } from "./connect-link.js";
import type { LinkConnection } from "./link-connection.js";
import { type LinkListener, listenLink } from "./link-listener.js";
import type { LinkLogger } from "./link-logger.js";

const SECRET = "limits-secret";
const logger: LinkLogger = { info: () => {}, warn: () => {} };
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(
  options: {
    maxPerAddress?: number;
    handshakeTimeoutMs?: number;
    idleTimeoutMs?: number;
    tls?: boolean;
  } = {},
): Promise<{
  listener: LinkListener;
  events: RecordedEvents;
  limiter: ConnectionLimiter;
  caPath?: string;
}> {
  const events = new RecordedEvents();
  const limiter = new ConnectionLimiter({
    listeners: { link: { maxConnections: 4, maxPerAddress: options.maxPerAddress ?? 2 } },
    maxTotal: Number.POSITIVE_INFINITY,
  });
  const certificate = options.tls ? makeTestCertificate() : undefined;
  if (certificate) cleanups.push(() => rmSync(certificate.dir, { recursive: true, force: true }));
  const listener = await listenLink({
    host: "127.0.0.1",
    port: 0,
    secret: SECRET,
    serial: "GS00002",
    logger,
    gate: new ListenerGate("link", { limiter, events }),
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    tls: certificate && { certPath: certificate.certPath, keyPath: certificate.keyPath },
    onConnection: (connection) => {
      void (async () => {
        for await (const frame of connection) {
          connection.send({ type: "PONG", requestId: frame.requestId });
        }
      })();
    },
  });
  cleanups.push(() => listener.close());
  return { listener, events, limiter, caPath: certificate?.certPath };
}

/** A bare TCP connection that says nothing; resolves once connected. */
function raw(listener: LinkListener, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: listener.address.port, localAddress });
    cleanups.push(() => void socket.destroy());
    socket.on("error", () => {});
    socket.resume(); // reads what comes, so that a close is seen
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once("close", () => resolve());
  });
}

async function peer(listener: LinkListener, caPath?: string): Promise<LinkConnection> {
  const connection = await connectLink({
    host: "127.0.0.1",
    port: listener.address.port,
    secret: SECRET,
    serial: "GS00001",
    expectSerial: "GS00002",
    tls: caPath === undefined ? undefined : { caPath },
  });
  cleanups.push(() => connection.close());
  return connection;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("the condition did not come true in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("link connection limits", () => {
  it("closes a flooding address's connections at once while a real peer links", async () => {
    const { listener, events } = await listen({ maxPerAddress: 2 });
    const flood = await Promise.all(Array.from({ length: 7 }, () => raw(listener, "127.0.0.2")));
    // The first two the listener accepted are admitted (and wait in their handshake); the other
    // five are closed before a byte is read.
    await until(() => flood.filter((socket) => socket.destroyed).length === 5);
    expect(events.refused).toEqual(Array(5).fill("link:per_address"));
    const connection = await peer(listener);
    expect(await connection.request({ type: "PING" })).toMatchObject({ type: "PONG" });
  });

  it("refuses over TLS before the TLS handshake", async () => {
    const { listener, events, limiter, caPath } = await listen({ maxPerAddress: 1, tls: true });
    await raw(listener, "127.0.0.1");
    await until(() => limiter.count("link") === 1);
    await expect(peer(listener, caPath)).rejects.toMatchObject({ code: "LINK_DOWN" });
    expect(events.refused).toEqual(["link:per_address"]);
  });

  it("closes a connection that does not finish its handshake in time, and counts it", async () => {
    const { listener, events } = await listen({ handshakeTimeoutMs: 200 });
    await closed(await raw(listener, "127.0.0.2"));
    await until(() => events.timedOut.length === 1);
    expect(events.timedOut).toEqual(["link:handshake"]);
  });

  it("closes a peer that sends nothing for the idle timeout, and keeps one that PINGs", async () => {
    const { listener, events } = await listen({ idleTimeoutMs: 300 });
    const silent = await peer(listener);
    const pinging = await peer(listener);
    while (!silent.isClosed) {
      expect(await pinging.request({ type: "PING" })).toMatchObject({ type: "PONG" });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(pinging.isClosed).toBe(false);
    expect(events.timedOut).toEqual(["link:idle"]);
  });
});
