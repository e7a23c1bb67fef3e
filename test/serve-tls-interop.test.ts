// NBD over TLS with the real clients against a real `gsnap serve`: nbdinfo and nbdcopy with an
// nbds:// URI, qemu-img with a tls-creds object, first with pre-shared keys (a psktool-format file
// the test writes), then with X.509 certificates of a throw-away CA. Data written through TLS is
// read back byte for byte through TLS with another client; under --nbd-tls require a plain client
// is refused with NBD_REP_ERR_TLS_REQD, and so are clients with the wrong key or no certificate.

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeInfoRequest } from "../src/nbd/handshake-codec.js";
import { Option, OptionReply } from "../src/nbd/protocol.js";
import { missingNbdClientsNoticed, nbdcopy, nbdinfo, qemuImg } from "../src/testing/nbd-clients.js";
import { RawNbdClient } from "../src/testing/nbd-raw-client.js";
import { CLI_PATH, runGsnap, type ServeProcess, startServe } from "../src/testing/serve-process.js";
import { makeTestCa, type TestCa } from "../src/testing/tls-ca.js";

const CYLINDERS = 10;
const VOLUME_BYTES = CYLINDERS * 15 * 57_344;
const missing = missingNbdClientsNoticed("NBD TLS INTEROP TESTS");

/** Random bytes with a zero MiB run, so the copies see data and holes. */
function image(length: number): Buffer {
  const data = crypto.randomBytes(length);
  data.fill(0, 1024 * 1024, 2 * 1024 * 1024);
  return data;
}

/** A psktool-format key file: `identity:` and 32 random bytes in hex. */
function writePskFile(file: string, identity: string): void {
  fs.writeFileSync(file, `${identity}:${crypto.randomBytes(32).toString("hex")}\n`, {
    mode: 0o600,
  });
}

async function createVolume(server: ServeProcess, volser: string): Promise<void> {
  const result = await server.cli("volume", "create", volser, "--cylinders", String(CYLINDERS));
  expect(result.code, result.stderr).toBe(0);
}

describe.skipIf(missing.length > 0 || !fs.existsSync(CLI_PATH))(
  "NBD over TLS with real clients",
  () => {
    let dir: string;

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-nbd-tls-"));
    });

    afterAll(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    describe("with pre-shared keys, TLS required", () => {
      let server: ServeProcess;
      let keys: string;
      let qemuDir: string;

      const nbds = (volser: string, keyFile = keys, user = "alice") =>
        `nbds://${user}@${server.nbdHost}:${server.nbdPort}/${volser}?tls-psk-file=${keyFile}`;

      /** qemu-img's arguments for the volume over TLS-PSK: the keys live in DIR/keys.psk. */
      const qemuTls = (volser: string) => [
        "--object",
        `tls-creds-psk,id=tls0,endpoint=client,dir=${qemuDir},username=alice`,
        "--image-opts",
        `driver=nbd,host=${server.nbdHost},port=${server.nbdPort},export=${volser},tls-creds=tls0`,
      ];

      beforeAll(async () => {
        keys = path.join(dir, "keys.psk");
        writePskFile(keys, "alice");
        qemuDir = path.join(dir, "qemu-psk");
        fs.mkdirSync(qemuDir);
        fs.copyFileSync(keys, path.join(qemuDir, "keys.psk"));
        server = await startServe({ args: ["--nbd-tls", "require", "--nbd-tls-psk", keys] });
        await createVolume(server, "VOL001");
        await createVolume(server, "VOL002");
      });

      afterAll(async () => {
        expect(await server.stop()).toBe(0);
        fs.rmSync(server.dataDir, { recursive: true, force: true });
      });

      it("says in its banner that NBD TLS is required with keys", () => {
        expect(server.output()).toMatch(/NBD {2}nbd:\/\/\S+ {2}\(TLS require, psk\)/);
      });

      it("shows the volume to nbdinfo over TLS", async () => {
        const { stdout } = await nbdinfo(["--json", nbds("VOL001")]);
        const info = JSON.parse(stdout) as { TLS: boolean; exports: { "export-size": number }[] };
        expect(info.TLS).toBe(true);
        expect(info.exports[0]["export-size"]).toBe(VOLUME_BYTES);
      });

      it("takes data in with nbdcopy over TLS and gives it back byte for byte to qemu-img", async () => {
        const data = image(VOLUME_BYTES);
        const source = path.join(dir, "psk-in.raw");
        const back = path.join(dir, "psk-back.raw");
        fs.writeFileSync(source, data);
        await nbdcopy(["--connections", "2", source, nbds("VOL001")]);
        await qemuImg(["convert", "-O", "raw", ...qemuTls("VOL001"), back]);
        expect(fs.readFileSync(back).equals(data)).toBe(true);
      });

      it("takes data in with qemu-img over TLS and gives it back byte for byte to nbdcopy", async () => {
        const data = image(VOLUME_BYTES);
        const source = path.join(dir, "psk-in2.raw");
        const back = path.join(dir, "psk-back2.raw");
        fs.writeFileSync(source, data);
        const [object, creds, , target] = qemuTls("VOL002");
        await qemuImg([
          "convert",
          "-n",
          "-f",
          "raw",
          source,
          object,
          creds,
          "--target-image-opts",
          target,
        ]);
        await nbdcopy([nbds("VOL002"), back]);
        expect(fs.readFileSync(back).equals(data)).toBe(true);
      });

      it("refuses a plain client: nbdinfo fails and the server answers NBD_REP_ERR_TLS_REQD", async () => {
        await expect(nbdinfo([server.nbdUri("VOL001")])).rejects.toThrow(/nbdinfo/);
        const client = await RawNbdClient.connect({ host: server.nbdHost, port: server.nbdPort });
        try {
          await client.handshake();
          const replies = await client.option(
            Option.GO,
            encodeInfoRequest({ name: "VOL001", infos: [] }),
          );
          expect(replies.map((reply) => reply.type)).toEqual([OptionReply.ERR_TLS_REQD]);
          expect(replies[0].data.toString()).toMatch(/TLS is required/);
        } finally {
          client.destroy();
        }
      });

      it("refuses a client with the wrong key or an unknown identity", async () => {
        const wrong = path.join(dir, "wrong.psk");
        writePskFile(wrong, "alice");
        await expect(nbdinfo([nbds("VOL001", wrong)])).rejects.toThrow(/TLS|gnutls/i);
        const stranger = path.join(dir, "stranger.psk");
        writePskFile(stranger, "mallory");
        await expect(nbdinfo([nbds("VOL001", stranger, "mallory")])).rejects.toThrow(/TLS|gnutls/i);
        // And still serves the right one.
        expect((await nbdinfo(["--size", nbds("VOL001")])).stdout.trim()).toBe(
          String(VOLUME_BYTES),
        );
      });
    });

    describe("with X.509 certificates and client certificates checked", () => {
      let server: ServeProcess;
      let ca: TestCa;

      const nbds = (volser: string, certificates = ca.clientDir) =>
        `nbds://${server.nbdHost}:${server.nbdPort}/${volser}?tls-certificates=${certificates}`;

      beforeAll(async () => {
        ca = makeTestCa(fs.mkdtempSync(path.join(dir, "ca-")));
        server = await startServe({
          args: [
            ...["--nbd-tls", "require", "--nbd-tls-cert", ca.serverCert],
            ...["--nbd-tls-key", ca.serverKey, "--nbd-tls-ca", ca.caCert],
          ],
        });
        await createVolume(server, "VOL001");
      });

      afterAll(async () => {
        expect(await server.stop()).toBe(0);
        fs.rmSync(server.dataDir, { recursive: true, force: true });
      });

      it("takes data in with qemu-img over TLS and gives it back byte for byte to nbdcopy", async () => {
        const data = image(VOLUME_BYTES);
        const source = path.join(dir, "x509-in.raw");
        const back = path.join(dir, "x509-back.raw");
        fs.writeFileSync(source, data);
        await qemuImg([
          ...["convert", "-n", "-f", "raw", source],
          ...["--object", `tls-creds-x509,id=tls0,endpoint=client,dir=${ca.clientDir}`],
          "--target-image-opts",
          `driver=nbd,host=${server.nbdHost},port=${server.nbdPort},export=VOL001,tls-creds=tls0`,
        ]);
        await nbdcopy([nbds("VOL001"), back]);
        expect(fs.readFileSync(back).equals(data)).toBe(true);
        const { stdout } = await nbdinfo(["--json", nbds("VOL001")]);
        expect((JSON.parse(stdout) as { TLS: boolean }).TLS).toBe(true);
      });

      it("refuses a client without a certificate, and one whose certificate another CA signed", async () => {
        const anonymous = fs.mkdtempSync(path.join(dir, "anonymous-"));
        fs.copyFileSync(ca.caCert, path.join(anonymous, "ca-cert.pem"));
        await expect(nbdinfo(["--size", nbds("VOL001", anonymous)])).rejects.toThrow(/TLS|gnutls/i);
        const other = makeTestCa(fs.mkdtempSync(path.join(dir, "other-ca-")), "another CA");
        const stranger = fs.mkdtempSync(path.join(dir, "stranger-"));
        fs.copyFileSync(ca.caCert, path.join(stranger, "ca-cert.pem"));
        for (const file of ["client-cert.pem", "client-key.pem"]) {
          fs.copyFileSync(path.join(other.clientDir, file), path.join(stranger, file));
        }
        await expect(nbdinfo(["--size", nbds("VOL001", stranger)])).rejects.toThrow(/TLS|gnutls/i);
      });
    });

    it("refuses to start with a key file it cannot use, naming the file", async () => {
      const bad = path.join(dir, "bad.psk");
      fs.writeFileSync(bad, "alice-without-a-key\n");
      const data = fs.mkdtempSync(path.join(dir, "data-"));
      const args = ["serve", "--data", data, "--api", "127.0.0.1:0", "--nbd", "127.0.0.1:0"];
      const result = await runGsnap([...args, "--nbd-tls", "on", "--nbd-tls-psk", bad]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        `Cannot use the NBD TLS keys in "${bad}": line 1 is not IDENTITY:HEXKEY`,
      );
    });
  },
);
