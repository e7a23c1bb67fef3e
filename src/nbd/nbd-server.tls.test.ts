// NBD_OPT_STARTTLS on the wire, against an NbdServer in the test's process, with Node's TLS client
// where the real clients (test/serve-tls-interop.test.ts) cannot be made to misbehave: TLS 1.2
// with PSK, bytes smuggled after STARTTLS, a TLS handshake that fails. Each bad connection is
// dropped alone and the server keeps serving.

import { afterEach, describe, expect, it } from "vitest";
import { RawNbdClient } from "../testing/nbd-raw-client.js";
import { type ServedStore, serveStore } from "../testing/served-store.js";
import { encodeOption } from "./handshake-codec.js";
import type { NbdTls } from "./nbd-tls.js";
import { Command, Option, OptionReply } from "./protocol.js";

const KEY = Buffer.alloc(32, 0x5a);
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function served(mode: NbdTls["mode"]): Promise<{ server: ServedStore; warnings: string[] }> {
  const warnings: string[] = [];
  const server = await serveStore({
    volumes: [{ volser: "VOL001", cylinders: 1 }],
    tls: { mode, credentials: { kind: "psk", keys: new Map([["alice", KEY]]) } },
    logger: { info: () => {}, warn: (_obj, msg) => warnings.push(msg) },
  });
  cleanups.push(() => server.close());
  return { server, warnings };
}

async function connect(server: ServedStore): Promise<RawNbdClient> {
  const client = await RawNbdClient.connect(server.address);
  cleanups.push(() => client.destroy());
  await client.handshake();
  return client;
}

const psk = (key = KEY) => ({
  ciphers: "PSK",
  checkServerIdentity: () => undefined,
  pskCallback: () => ({ psk: key, identity: "alice" }),
});

describe("NBD server with TLS", () => {
  it("writes and reads back over TLS 1.2 with a pre-shared key", async () => {
    const { server } = await served("require");
    const client = await connect(server);
    const replies = await client.startTls({ ...psk(), maxVersion: "TLSv1.2" });
    expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ACK]);
    expect((client.socket as import("node:tls").TLSSocket).getProtocol()).toBe("TLSv1.2");
    await client.open("VOL001", { greeted: true });
    const data = Buffer.alloc(8192, 0xc3);
    client.send({ type: Command.WRITE, offsetBytes: 4096 }, data);
    expect((await client.reply()).error).toBe(0);
    client.send({ type: Command.READ, offsetBytes: 4096, lengthBytes: data.length });
    const read = await client.reply();
    expect(read.chunks[0].payload.subarray(8)).toEqual(data);
    expect(await server.store.read("VOL001", { offsetBytes: 4096, lengthBytes: 8192 })).toEqual(
      data,
    );
  });

  it("drops a client that sends bytes after NBD_OPT_STARTTLS before TLS, and serves the next", async () => {
    const { server, warnings } = await served("on");
    const client = await connect(server);
    // STARTTLS and, in the same write, a plain option an attacker could smuggle in.
    client.write(Buffer.concat([encodeOption(Option.STARTTLS), encodeOption(Option.LIST)]));
    expect(await client.closedWithin(5_000)).toBe(true);
    expect(warnings.join("\n")).toMatch(/bytes came after NBD_OPT_STARTTLS, before TLS/);
    const next = await connect(server);
    await next.startTls(psk());
    expect((await next.open("VOL001", { greeted: true })).sizeBytes).toBe(15 * 57_344);
  });

  it("drops a client whose key is wrong, logging why", async () => {
    const { server, warnings } = await served("require");
    const client = await connect(server);
    await expect(client.startTls(psk(Buffer.alloc(32, 1)))).rejects.toThrow();
    expect(await client.closedWithin(5_000)).toBe(true);
    expect(warnings.join("\n")).toMatch(/the TLS handshake failed/);
  });
});
