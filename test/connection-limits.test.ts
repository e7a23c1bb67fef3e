// Connection limits in a real `gsnap serve`: the flags reach the NBD server, a flood from one
// address is refused in its handshake while another host (127.0.0.2, routed over loopback) still
// gets in and writes, and /metrics counts the refusals. In-process tests per port are beside the
// code (src/nbd, src/api, src/link *limits*.test.ts).

import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeInfoRequest } from "../src/nbd/handshake-codec.js";
import { Command, Option, OptionReply } from "../src/nbd/protocol.js";
import { RawNbdClient } from "../src/testing/nbd-raw-client.js";
import { CLI_PATH, type ServeProcess, startServe } from "../src/testing/serve-process.js";

describe.skipIf(!fs.existsSync(CLI_PATH))("gsnap serve connection limits", () => {
  let server: ServeProcess;
  const clients: RawNbdClient[] = [];

  beforeAll(async () => {
    server = await startServe({
      args: ["--nbd-max-connections", "6", "--nbd-max-per-address", "2", "--fd-reserve", "128"],
    });
    const created = await server.cli("volume", "create", "VOL001", "--cylinders", "10");
    expect(created.code, created.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await server?.stop();
  });

  async function connect(localAddress: string): Promise<RawNbdClient> {
    const client = await RawNbdClient.connect(
      { host: server.nbdHost, port: server.nbdPort },
      localAddress,
    );
    clients.push(client);
    return client;
  }

  it("refuses a flooding address, lets another host write, and counts the refusals", async () => {
    for (let i = 0; i < 2; i += 1) await (await connect("127.0.0.1")).open("VOL001");
    const go = encodeInfoRequest({ name: "VOL001", infos: [] });
    for (let i = 0; i < 20; i += 1) {
      const refused = await connect("127.0.0.1");
      await refused.handshake();
      const [reply] = await refused.option(Option.GO, go);
      expect(reply.type).toBe(OptionReply.ERR_POLICY);
      expect(reply.data.toString("utf8")).toContain("Cannot accept a connection from 127.0.0.1");
    }
    const host = await connect("127.0.0.2");
    await host.open("VOL001");
    const data = Buffer.alloc(64 * 1024, 0x7e);
    host.send({ type: Command.WRITE, offsetBytes: 0, lengthBytes: data.length }, data);
    host.send({ type: Command.FLUSH });
    expect([...(await host.replies(2)).values()].map((reply) => reply.error)).toEqual([0, 0]);
    host.send({ type: Command.READ, offsetBytes: 0, lengthBytes: data.length });
    expect((await host.reply()).chunks.length).toBeGreaterThan(0);

    const metrics = await fetch(`${server.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${server.token}` },
    }).then((response) => response.text());
    expect(metrics).toContain(
      'gsnap_connections_refused_total{listener="nbd",reason="per_address"} 20',
    );
    expect(metrics).toContain('gsnap_connections_timed_out_total{listener="link",phase="idle"} 0');
  });
});
