// The NBD server's connection limits over real loopback sockets: caps per address and in all
// (127.0.0.2 and 127.0.0.3 pose as other hosts; Linux routes all of 127/8 over loopback), the
// refusal a client is told in its handshake, handshake and idle timeouts, and backpressure on a
// client that asks for more than it reads.

import { afterEach, describe, expect, it } from "vitest";
import { ConnectionLimiter } from "../limits/connection-limiter.js";
import { ListenerGate } from "../limits/listener-gate.js";
import { RawNbdClient } from "../testing/nbd-raw-client.js";
import { RecordedEvents } from "../testing/recorded-events.js";
import { type ServedStore, serveStore } from "../testing/served-store.js";
import { MAX_IN_FLIGHT_BYTES, MAX_IN_FLIGHT_REQUESTS } from "./connection.js";
import { encodeInfoRequest } from "./handshake-codec.js";
import { Command, Option, OptionReply } from "./protocol.js";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function served(
  options: {
    maxConnections?: number;
    maxPerAddress?: number;
    handshakeMs?: number;
    idleMs?: number;
  } = {},
): Promise<{ server: ServedStore; events: RecordedEvents }> {
  const events = new RecordedEvents();
  const limiter = new ConnectionLimiter({
    listeners: {
      nbd: {
        maxConnections: options.maxConnections ?? 3,
        maxPerAddress: options.maxPerAddress ?? 2,
      },
    },
    maxTotal: Number.POSITIVE_INFINITY,
  });
  const server = await serveStore({
    volumes: [{ volser: "VOL001", cylinders: 200 }],
    gate: new ListenerGate("nbd", { limiter, events }),
    timeouts: { handshakeMs: options.handshakeMs, idleMs: options.idleMs },
  });
  cleanups.push(() => server.close());
  return { server, events };
}

async function client(server: ServedStore, localAddress = "127.0.0.1"): Promise<RawNbdClient> {
  const raw = await RawNbdClient.connect(server.address, localAddress);
  cleanups.push(() => raw.destroy());
  return raw;
}

/** Waits for `condition`, polling; fails after `timeoutMs` (a bound, not a measurement). */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("the condition did not come true in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("NBD connection limits", () => {
  it("refuses a flooding address in its handshake, while another host gets in and writes", async () => {
    const { server, events } = await served({ maxConnections: 3, maxPerAddress: 2 });
    for (let i = 0; i < 2; i += 1) await (await client(server)).open("VOL001");
    const flood = await Promise.all(Array.from({ length: 10 }, () => client(server)));
    for (const refused of flood) {
      await refused.handshake();
      const replies = await refused.option(
        Option.GO,
        encodeInfoRequest({ name: "VOL001", infos: [] }),
      );
      expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_POLICY]);
      expect(replies[0].data.toString("utf8")).toContain(
        "Cannot accept a connection from 127.0.0.1: 127.0.0.1 holds 2 nbd connections",
      );
      expect(await refused.closedWithin(5_000)).toBe(true);
    }
    expect(events.refused).toEqual(Array(10).fill("nbd:per_address"));

    const other = await client(server, "127.0.0.2");
    await other.open("VOL001");
    const data = Buffer.alloc(4096, 0x5a);
    other.send({ type: Command.WRITE, offsetBytes: 8192, lengthBytes: data.length }, data);
    other.send({ type: Command.FLUSH });
    const replies = await other.replies(2);
    expect([...replies.values()].map((reply) => reply.error)).toEqual([0, 0]);
    const read = await server.store.read("VOL001", { offsetBytes: 8192, lengthBytes: 4096 });
    expect(read.equals(data)).toBe(true);

    // The listener is now full: a third host is refused for the total, not for its address.
    const third = await client(server, "127.0.0.3");
    await third.handshake();
    const [reply] = await third.option(Option.GO, encodeInfoRequest({ name: "VOL001", infos: [] }));
    expect(reply.type).toBe(OptionReply.ERR_POLICY);
    expect(reply.data.toString("utf8")).toContain("the nbd listener holds 3 connections");
    expect(events.refused.at(-1)).toBe("nbd:total");
  });

  it("gives a slot back when a connection closes", async () => {
    const { server } = await served({ maxConnections: 3, maxPerAddress: 1 });
    const first = await client(server);
    await first.open("VOL001");
    first.destroy();
    await first.closed;
    await until(() => server.server.connectionStats().length === 0);
    await (await client(server)).open("VOL001");
  });

  it("closes a connection that does not finish its handshake in time, and counts it", async () => {
    const { server, events } = await served({ handshakeMs: 200 });
    const silent = await client(server);
    expect(await silent.closedWithin(5_000)).toBe(true);
    expect(events.timedOut).toEqual(["nbd:handshake"]);
  });

  it("closes an open export that sends nothing for the idle timeout, and counts it", async () => {
    const { server, events } = await served({ idleMs: 300 });
    const busy = await client(server);
    await busy.open("VOL001");
    const idle = await client(server, "127.0.0.2");
    await idle.open("VOL001");
    // The busy client keeps asking; only the silent one goes.
    const closed = idle.closedWithin(10_000);
    let answered = 0;
    while (!(await Promise.race([closed, Promise.resolve(false)]))) {
      busy.send({ type: Command.READ, offsetBytes: 0, lengthBytes: 4096 });
      expect((await busy.reply()).error).toBe(0);
      answered += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await closed).toBe(true);
    expect(answered).toBeGreaterThan(0);
    expect(events.timedOut).toEqual(["nbd:idle"]);
    busy.send({ type: Command.READ, offsetBytes: 0, lengthBytes: 4096 });
    expect((await busy.reply()).error).toBe(0);
  });

  it("stops reading a client that leaves its replies unread, holding at most its bound", async () => {
    const { server } = await served();
    const greedy = await client(server);
    await greedy.open("VOL001", { structured: false });
    greedy.socket.pause(); // reads nothing from now on
    const readBytes = 8 * 1024 * 1024;
    const requests = 16; // 128 MiB of replies asked for: twice the bound, within the volume
    for (let i = 0; i < requests; i += 1) {
      greedy.send({ type: Command.READ, offsetBytes: i * readBytes, lengthBytes: readBytes });
    }
    await until(() => {
      const [stats] = server.server.connectionStats();
      return stats.readingPaused && stats.unsentBytes > 0;
    });
    const [stats] = server.server.connectionStats();
    expect(stats.inFlightBytes).toBeLessThanOrEqual(MAX_IN_FLIGHT_BYTES);
    // The replies' data, plus their headers (at most 32 bytes each), which the bound leaves out.
    expect(stats.unsentBytes).toBeLessThanOrEqual(
      MAX_IN_FLIGHT_BYTES + MAX_IN_FLIGHT_REQUESTS * 32,
    );
    // Once the client reads, every reply comes, and the server reads the rest of the requests.
    greedy.socket.resume();
    const replies = await greedy.replies(requests);
    expect([...replies.values()].every((reply) => reply.error === 0)).toBe(true);
    expect([...replies.values()].every((reply) => reply.data?.length === readBytes)).toBe(true);
  });
});
