// A real `gsnap serve` whose data dir is a small tmpfs that fills up: host writes get ENOSPC over
// NBD and snaps NO_SPACE, the server stays up and readable and its online fsck true, deleting a
// volume gives its space back within seconds, and the server starts again on a full disk.

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { Errno } from "../src/nbd/errno.js";
import { Command } from "../src/nbd/protocol.js";
import { RawNbdClient } from "../src/testing/nbd-raw-client.js";
import { CLI_PATH, runGsnap, type ServeProcess, startServe } from "../src/testing/serve-process.js";
import { mountSkipReason, mountSmallFilesystem } from "../src/testing/small-filesystem.js";

const MIB = 1024 * 1024;
const WRITE_BYTES = 512 * 1024;
/** 30 cylinders of 15 tracks of 57,344 bytes. */
const VOLUME_BYTES = 30 * 15 * 57_344;

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i += 8) buffer.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return buffer;
}

async function open(server: ServeProcess, volser: string): Promise<RawNbdClient> {
  const raw = await RawNbdClient.connect({ host: server.nbdHost, port: server.nbdPort });
  await raw.open(volser, { structured: false });
  return raw;
}

async function nbdWrite(raw: RawNbdClient, offsetBytes: number, data: Buffer): Promise<number> {
  raw.send({ type: Command.WRITE, offsetBytes }, data);
  return (await raw.reply()).error;
}

async function nbdRead(raw: RawNbdClient, offsetBytes: number, lengthBytes: number) {
  raw.send({ type: Command.READ, offsetBytes, lengthBytes });
  const reply = await raw.reply();
  expect(reply.error).toBe(0);
  return reply.data as Buffer;
}

async function expectCli(server: ServeProcess, ...args: string[]): Promise<string> {
  const result = await server.cli(...args);
  expect(result.code, `gsnap ${args.join(" ")}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

async function fsckOk(server: ServeProcess): Promise<void> {
  const report = JSON.parse(await expectCli(server, "fsck", "--json"));
  expect(report.problems).toEqual([]);
}

describe.skipIf(!fs.existsSync(CLI_PATH) || mountSkipReason() !== "")(
  `gsnap serve on a full filesystem ${mountSkipReason()}`,
  () => {
    it("answers ENOSPC and keeps serving, gives a deleted volume's space back, and starts again on a full disk", async () => {
      const filesystem = mountSmallFilesystem({ sizeBytes: 48 * MIB });
      const servers: ServeProcess[] = [];
      try {
        const start = async () => {
          const server = await startServe({
            dataDir: filesystem.dir,
            args: ["--space-reserve-mib", "4"],
          });
          servers.push(server);
          return server;
        };
        const server = await start();
        for (const volser of ["VOL001", "VOL002", "VOL003"]) {
          await expectCli(server, "volume", "create", volser, "--cylinders", "30");
        }
        // VOL001 is written whole, then snapped to VOL002, which is then written over: new
        // chunks, with snaps of VOL001 to VOL003 among the writes, until the disk is full.
        const first = await open(server, "VOL001");
        for (let offset = 0; offset + WRITE_BYTES <= VOLUME_BYTES; offset += WRITE_BYTES) {
          expect(await nbdWrite(first, offset, pattern(WRITE_BYTES, offset))).toBe(0);
        }
        await expectCli(server, "snap", "VOL001:0.0-29.14", "VOL002");
        const second = await open(server, "VOL002");
        let written = 0;
        let error = 0;
        for (let offset = 0; offset + WRITE_BYTES <= VOLUME_BYTES; offset += WRITE_BYTES) {
          error = await nbdWrite(second, offset, pattern(WRITE_BYTES, offset + 1));
          if (error !== 0) break;
          written += WRITE_BYTES;
          if (offset % (8 * WRITE_BYTES) === 0) {
            const snap = await server.cli("snap", "VOL001:0.0-29.14", "VOL003");
            expect([0, ERROR_CODES.NO_SPACE.exitCode]).toContain(snap.code);
          }
        }
        expect(error).toBe(Errno.ENOSPC);
        expect(written).toBeGreaterThan(4 * MIB);
        // Refused now, and the server is still up and readable, its fsck true.
        expect(await nbdWrite(second, 0, pattern(4096, 5))).toBe(Errno.ENOSPC);
        const snap = await server.cli("snap", "VOL001:0.0-29.14", "VOL003");
        expect(snap.code).toBe(ERROR_CODES.NO_SPACE.exitCode);
        expect(snap.stderr).toContain("NO_SPACE");
        expect(server.child.exitCode).toBeNull();
        // The operator sees why: the store's usage and the metrics say the disk is full.
        const auth = { headers: { authorization: `Bearer ${server.token}` } };
        const stats = await (await fetch(`${server.apiUrl}/v1/stats`, auth)).json();
        expect(stats.store.space).toBe("full");
        const metrics = await (await fetch(`${server.apiUrl}/metrics`, auth)).text();
        expect(metrics).toMatch(/^gsnap_store_disk_full 1$/m);
        const read = await nbdRead(first, 10 * WRITE_BYTES, WRITE_BYTES);
        expect(read.equals(pattern(WRITE_BYTES, 10 * WRITE_BYTES))).toBe(true);
        await fsckOk(server);
        // Deleting the volume written over gives its chunks' space back within seconds.
        second.destroy();
        // Free, or held for the collector in the reserve file (written back once there is room).
        const spare = () => {
          const reserve = path.join(filesystem.dir, "reserve");
          return filesystem.freeBytes() + (fs.existsSync(reserve) ? fs.statSync(reserve).size : 0);
        };
        const spareBefore = spare();
        await expectCli(server, "volume", "delete", "VOL002");
        await expectCli(server, "volume", "delete", "VOL003");
        const started = Date.now();
        while (spare() - spareBefore < written * 0.9) {
          expect(Date.now() - started, "seconds until the space is back").toBeLessThan(10_000);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        // Writes are taken again.
        expect(await nbdWrite(first, 0, pattern(WRITE_BYTES, 0))).toBe(0);
        first.destroy();
        await fsckOk(server);
        expect(await server.stop()).toBe(0);

        // Something else fills the disk; the server starts on it, reads, and refuses writes.
        filesystem.fill();
        const again = await start();
        const host = await open(again, "VOL001");
        const back = await nbdRead(host, 20 * WRITE_BYTES, WRITE_BYTES);
        expect(back.equals(pattern(WRITE_BYTES, 20 * WRITE_BYTES))).toBe(true);
        expect(await nbdWrite(host, 0, pattern(WRITE_BYTES, 7))).toBe(Errno.ENOSPC);
        host.destroy();
        await fsckOk(again);
        expect(await again.stop()).toBe(0);
        expect((await runGsnap(["fsck", filesystem.dir])).code).toBe(0);
      } finally {
        for (const server of servers) await server.kill();
        filesystem.unmount();
      }
    }, 120_000);
  },
);
