// Garbage on the NBD port: random bytes, truncated messages and impossible claims, in the
// handshake and in transmission. The server drops each such connection, logs one line for it,
// stays up, changes no volume, and serves a normal client afterwards.

import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { missingNbdClients, nbdshScript } from "../testing/nbd-clients.js";
import { RawNbdClient } from "../testing/nbd-raw-client.js";
import { seededRandom } from "../testing/prng.js";
import { type ServedStore, serveStore } from "../testing/served-store.js";
import { encodeClientFlags, encodeInfoRequest, encodeOption } from "./handshake-codec.js";
import { ClientFlag, Command, MAX_PAYLOAD_BYTES, Option } from "./protocol.js";
import { encodeRequestHeader } from "./transmission-codec.js";

const TRACK = 57_344;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function bytes(random: () => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

interface LogLine {
  readonly level: "info" | "warn";
  readonly msg: string;
}

async function served(): Promise<{ server: ServedStore; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const server = await serveStore({
    volumes: [{ volser: "VOL001", cylinders: 2 }],
    logger: {
      info: (_obj, msg) => lines.push({ level: "info", msg }),
      warn: (_obj, msg) => lines.push({ level: "warn", msg }),
    },
  });
  cleanups.push(() => server.close());
  // Some data to keep: the volume must read the same after the garbage.
  await server.store.write("VOL001", { offsetBytes: 1000, data: Buffer.alloc(3 * TRACK, 0x5a) });
  return { server, lines };
}

async function digest(server: ServedStore): Promise<string> {
  const sizeBytes = server.store.showVolume("VOL001").sizeBytes;
  const data = await server.store.read("VOL001", { offsetBytes: 0, lengthBytes: sizeBytes });
  return createHash("sha256").update(data).digest("hex");
}

/** Connects, lets `attack` write, half-closes, and expects the server to close within 5 s. */
async function expectDropped(
  server: ServedStore,
  attack: (raw: RawNbdClient) => Promise<void> | void,
): Promise<void> {
  const raw = await RawNbdClient.connect(server.address);
  cleanups.push(() => raw.destroy());
  await attack(raw);
  raw.socket.end();
  expect(await raw.closedWithin(5000)).toBe(true);
}

/** A normal client still gets its data back. */
async function expectServing(server: ServedStore): Promise<void> {
  const raw = await RawNbdClient.connect(server.address);
  cleanups.push(() => raw.destroy());
  await raw.open("VOL001");
  raw.send({ type: Command.READ, offsetBytes: 1000, lengthBytes: 100 });
  const reply = await raw.reply();
  expect(reply.error).toBe(0);
  expect(reply.chunks[0].payload.subarray(8)).toEqual(Buffer.alloc(100, 0x5a));
}

const seed = Number(process.env.GSNAP_TEST_SEED ?? Date.now() % 2 ** 31);

describe("NBD server under garbage", () => {
  it("drops connections that send random bytes in the handshake and keeps serving", async () => {
    console.log(`garbage test seed: ${seed} (GSNAP_TEST_SEED=${seed} replays it)`);
    const random = seededRandom(seed);
    const { server } = await served();
    const before = await digest(server);
    for (let i = 0; i < 20; i += 1) {
      await expectDropped(server, async (raw) => {
        if (i % 2 === 1) await raw.read(18);
        raw.write(bytes(random, Math.floor(random() * 300)));
      });
    }
    // Valid flags, then random options: only IHAVEOPT-less garbage or truncation can follow.
    for (let i = 0; i < 10; i += 1) {
      await expectDropped(server, async (raw) => {
        await raw.handshake(ClientFlag.FIXED_NEWSTYLE);
        raw.write(bytes(random, 1 + Math.floor(random() * 100)));
      });
    }
    await expectServing(server);
    expect(await digest(server)).toBe(before);
  });

  it("drops truncated and oversized handshake messages with one log line each", async () => {
    const { server, lines } = await served();
    const before = await digest(server);
    const go = encodeOption(Option.GO, encodeInfoRequest({ name: "VOL001", infos: [] }));
    const attacks: ((raw: RawNbdClient) => Promise<void> | void)[] = [
      (raw) => raw.write(encodeClientFlags(0xffffffff)),
      async (raw) => {
        await raw.handshake();
        raw.write(go.subarray(0, 20));
      },
      async (raw) => {
        await raw.handshake();
        const huge = encodeOption(Option.GO);
        huge.writeUInt32BE(0xffffffff, 12);
        raw.write(huge);
      },
      async (raw) => {
        await raw.handshake();
        raw.write(Buffer.from("IHAVEOPX"));
        raw.write(Buffer.alloc(8));
      },
    ];
    for (const attack of attacks) {
      const count = lines.length;
      await expectDropped(server, attack);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(lines.slice(count).filter((line) => line.msg.startsWith("Cannot"))).toHaveLength(1);
    }
    await expectServing(server);
    expect(await digest(server)).toBe(before);
  });

  it("drops bad requests in transmission without running them", async () => {
    console.log(`garbage test seed: ${seed} (GSNAP_TEST_SEED=${seed} replays it)`);
    const random = seededRandom(seed + 1);
    const { server, lines } = await served();
    const before = await digest(server);
    const write = (offsetBytes: number, lengthBytes: number) =>
      encodeRequestHeader({ flags: 0, type: Command.WRITE, handle: 1n, offsetBytes, lengthBytes });
    const attacks: ((raw: RawNbdClient) => void)[] = [
      // Random bytes where a request should be.
      (raw) => raw.write(bytes(random, 1 + Math.floor(random() * 500))),
      // A request cut short.
      (raw) => raw.write(write(0, 512).subarray(0, 13)),
      // A write whose payload never fully arrives: it must not be applied.
      (raw) => {
        raw.write(write(0, 4096));
        raw.write(Buffer.alloc(4000, 0xee));
      },
      // A write claiming more than the largest payload.
      (raw) => {
        raw.write(write(0, MAX_PAYLOAD_BYTES + 1));
        raw.write(Buffer.alloc(1000, 0xee));
      },
      // A bad magic after a good request.
      (raw) => {
        raw.write(
          encodeRequestHeader({ flags: 0, type: 0, handle: 2n, offsetBytes: 0, lengthBytes: 8 }),
        );
        const bad = write(0, 16);
        bad.writeUInt32BE(0x12345678, 0);
        raw.write(bad);
        raw.write(Buffer.alloc(16, 0xee));
      },
    ];
    for (const attack of attacks) {
      const count = lines.length;
      await expectDropped(server, async (raw) => {
        await raw.open("VOL001");
        attack(raw);
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(lines.slice(count).filter((line) => line.msg.startsWith("Cannot"))).toHaveLength(1);
    }
    // And random bytes straight after a successful handshake, many times over.
    for (let i = 0; i < 20; i += 1) {
      await expectDropped(server, async (raw) => {
        await raw.open("VOL001", { structured: i % 2 === 0 });
        raw.write(bytes(random, 1 + Math.floor(random() * 2000)));
      });
    }
    expect(await digest(server)).toBe(before);
    await expectServing(server);
  });

  it.skipIf(missingNbdClients().includes("nbdsh"))(
    "serves a real client after the garbage",
    async () => {
      const { server } = await served();
      await expectDropped(server, (raw) => raw.write(Buffer.from("GET / HTTP/1.1\r\n\r\n")));
      const { stdout } = await nbdshScript(server.uri("VOL001"), "print(h.pread(4, 1000).hex())");
      expect(stdout.trim()).toBe("5a5a5a5a");
    },
  );
});
