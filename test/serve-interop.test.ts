// Real NBD clients against a real `gsnap serve` process (src/nbd has the same against an NBD
// server in the test's own process, where the store can be inspected directly). Here everything
// crosses real sockets: data goes in with one client and is checked with another, allocation is
// compared with what the API reports, and the server survives garbage on both its ports.

import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  missingNbdClientsNoticed,
  nbdcopy,
  nbdinfo,
  nbdshScript,
  qemuImg,
  qemuIo,
} from "../src/testing/nbd-clients.js";
import { CLI_PATH, type ServeProcess, startServe } from "../src/testing/serve-process.js";

const TRACK = 57_344;
const CYLINDERS = 20;
const VOLUME_BYTES = CYLINDERS * 15 * TRACK;
const missing = missingNbdClientsNoticed("REAL-SERVER NBD INTEROP TESTS");

/** Distinct bytes per call, with whole zero MiB runs so the map has holes. */
function image(length: number, seed: number): Buffer {
  const bytes = crypto.createHash("sha256").update(String(seed)).digest();
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i += 32) bytes.copy(data, i, 0, Math.min(32, length - i));
  for (let i = 0; i < length; i += 4096) data.writeUInt32LE(i ^ seed, i);
  if (length > 6 * 1024 * 1024) data.fill(0, 4 * 1024 * 1024, 6 * 1024 * 1024);
  return data;
}

describe.skipIf(missing.length > 0 || !fs.existsSync(CLI_PATH))(
  "real clients against gsnap serve",
  () => {
    let server: ServeProcess;
    let dir: string;

    async function api<T>(
      method: string,
      route: string,
      body?: unknown,
    ): Promise<{ status: number; body: T }> {
      const response = await fetch(`${server.apiUrl}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${server.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
    }

    async function volume(volser: string): Promise<void> {
      expect((await api("POST", "/v1/volumes", { volser, cylinders: CYLINDERS })).status).toBe(201);
    }

    async function digestOf(volser: string): Promise<string> {
      const file = path.join(dir, `${volser}-${Date.now()}.raw`);
      await nbdcopy([server.nbdUri(volser), file]);
      const digest = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
      fs.rmSync(file);
      return digest;
    }

    beforeAll(async () => {
      server = await startServe();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-interop-"));
    });

    afterAll(async () => {
      expect(await server.stop()).toBe(0);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(server.dataDir, { recursive: true, force: true });
    });

    it("takes an image in with qemu-img convert and gives it back bit for bit through nbdcopy", async () => {
      await volume("QEMU01");
      const data = image(VOLUME_BYTES, 1);
      fs.writeFileSync(path.join(dir, "in.raw"), data);
      await qemuImg([
        "convert",
        "-n",
        "-f",
        "raw",
        "-O",
        "raw",
        path.join(dir, "in.raw"),
        server.nbdUri("QEMU01"),
      ]);
      await nbdcopy([server.nbdUri("QEMU01"), path.join(dir, "out.raw")]);
      expect(fs.readFileSync(path.join(dir, "out.raw")).equals(data)).toBe(true);
      await qemuImg([
        "convert",
        "-f",
        "raw",
        "-O",
        "raw",
        server.nbdUri("QEMU01"),
        path.join(dir, "out2.raw"),
      ]);
      expect(fs.readFileSync(path.join(dir, "out2.raw")).equals(data)).toBe(true);
    });

    it("copies both ways with nbdcopy over four connections", async () => {
      await volume("COPY01");
      const data = image(VOLUME_BYTES, 2);
      fs.writeFileSync(path.join(dir, "copy.raw"), data);
      await nbdcopy(["--connections", "4", path.join(dir, "copy.raw"), server.nbdUri("COPY01")]);
      await nbdcopy([
        "--connections",
        "4",
        server.nbdUri("COPY01"),
        path.join(dir, "copy-out.raw"),
      ]);
      expect(fs.readFileSync(path.join(dir, "copy-out.raw")).equals(data)).toBe(true);
    });

    it("maps in nbdinfo --map exactly the tracks the API says are allocated", async () => {
      await volume("MAP001");
      await nbdshScript(
        server.nbdUri("MAP001"),
        [
          `h.pwrite(b"\\x01" * 100, ${3 * TRACK + 10})`,
          `h.pwrite(b"\\x02" * ${2 * TRACK}, ${100 * TRACK})`,
        ].join("\n"),
      );
      const { stdout } = await nbdinfo(["--map", "--json", server.nbdUri("MAP001")]);
      const extents = JSON.parse(stdout) as { offset: number; length: number; type: number }[];
      const dataBytes = extents
        .filter((extent) => (extent.type & 1) === 0)
        .reduce((sum, e) => sum + e.length, 0);
      const shown = await api<{ allocatedTracks: number }>("GET", "/v1/volumes/MAP001");
      expect(shown.body.allocatedTracks).toBe(3);
      expect(dataBytes).toBe(3 * TRACK);
    });

    it("agrees with a model after random qemu-io writes and reads", async () => {
      await volume("QIO001");
      const model = Buffer.alloc(VOLUME_BYTES);
      const commands: string[] = [];
      let seed = 7;
      const next = (n: number) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed % n;
      };
      for (let i = 0; i < 40; i += 1) {
        const length = 512 * (1 + next(300));
        const offset = 512 * next((VOLUME_BYTES - length) / 512);
        const pattern = 1 + next(254);
        commands.push("-c", `write -P ${pattern} ${offset} ${length}`);
        model.fill(pattern, offset, offset + length);
      }
      await qemuIo(["-f", "raw", ...commands, server.nbdUri("QIO001")]);
      await nbdcopy([server.nbdUri("QIO001"), path.join(dir, "qio.raw")]);
      expect(fs.readFileSync(path.join(dir, "qio.raw")).equals(model)).toBe(true);
    });

    it("handles unaligned I/O, I/O past the end, flush, trim and write-zeroes from nbdsh", async () => {
      await volume("SH0001");
      const script = [
        `h.pwrite(b"abc" * 10000, ${TRACK - 7})`,
        `print(h.pread(30000, ${TRACK - 7}) == b"abc" * 10000)`,
        "h.flush()",
        "h.set_strict_mode(0)",
        "try:",
        `    h.pread(10, ${VOLUME_BYTES - 5})`,
        "except nbd.Error as e:",
        "    print(e.errno == 'EINVAL')",
        `h.trim(${3 * TRACK}, 0)`,
        `print(h.pread(100, ${TRACK - 7}) == bytes(100))`,
        `h.pwrite(b"z" * 5000, ${10 * TRACK})`,
        `h.zero(5000, ${10 * TRACK})`,
        `print(h.pread(5000, ${10 * TRACK}) == bytes(5000))`,
      ].join("\n");
      const { stdout } = await nbdshScript(server.nbdUri("SH0001"), script);
      expect(stdout.trim().split("\n")).toEqual(["True", "True", "True", "True"]);
    });

    it("survives garbage on the NBD and API ports and changes nothing", async () => {
      await volume("GARBGE");
      const data = image(2 * 1024 * 1024, 3);
      fs.writeFileSync(path.join(dir, "garbage-in.raw"), data);
      await qemuImg([
        "convert",
        "-n",
        "-f",
        "raw",
        "-O",
        "raw",
        path.join(dir, "garbage-in.raw"),
        server.nbdUri("GARBGE"),
      ]);
      const before = await digestOf("GARBGE");
      const volumesBefore = (await api<unknown[]>("GET", "/v1/volumes")).body;
      for (let i = 0; i < 30; i += 1) {
        const socket = net.connect({ host: server.nbdHost, port: server.nbdPort });
        await new Promise<void>((resolve) => {
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
          socket.on("connect", () => {
            socket.write(crypto.randomBytes(1 + ((i * 97) % 4000)));
            setTimeout(() => socket.destroy(), 20);
          });
        });
      }
      for (const body of [
        "{",
        "null",
        "[1,2",
        '{"volser":',
        crypto.randomBytes(300).toString("latin1"),
      ]) {
        const response = await fetch(`${server.apiUrl}/v1/volumes`, {
          method: "POST",
          headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
          body,
        });
        expect(response.status).toBe(400);
      }
      expect(server.child.exitCode).toBeNull();
      expect((await fetch(`${server.apiUrl}/healthz`)).status).toBe(200);
      expect(await digestOf("GARBGE")).toBe(before);
      expect((await api<unknown[]>("GET", "/v1/volumes")).body).toEqual(volumesBefore);
    });
  },
);
