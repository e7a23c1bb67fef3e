// The peer link over TLS, with a self-signed certificate made for the test by openssl.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectLink } from "./connect-link.js";
import { type LinkListener, listenLink } from "./link-listener.js";
import type { LinkLogger } from "./link-logger.js";
import { trackChecksum } from "./track-checksum.js";

const SECRET = "tls-link-secret";
let dir = "";
let certPath = "";
let keyPath = "";
let listener: LinkListener;
const warnings: string[] = [];
const logger: LinkLogger = { info: () => {}, warn: (_obj, msg) => warnings.push(msg) };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "gsnap-link-tls-"));
  certPath = path.join(dir, "cert.pem");
  keyPath = path.join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
      ...["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ...["-keyout", keyPath, "-out", certPath],
    ],
    { stdio: "ignore" },
  );
  listener = await listenLink({
    host: "127.0.0.1",
    port: 0,
    secret: SECRET,
    serial: "GS00002",
    tls: { certPath, keyPath },
    logger,
    onConnection: (connection) => {
      void (async () => {
        for await (const frame of connection) {
          connection.send({ type: "ACK", requestId: frame.requestId });
        }
      })();
    },
  });
});

afterAll(async () => {
  await listener?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("link over TLS", () => {
  it("authenticates and carries a track when the initiator trusts the certificate", async () => {
    const connection = await connectLink({
      host: "127.0.0.1",
      port: listener.address.port,
      secret: SECRET,
      serial: "GS00001",
      expectSerial: "GS00002",
      tls: { caPath: certPath },
    });
    const data = Buffer.alloc(1 << 20, 0x33);
    const reply = await connection.request({
      type: "TRACK_DATA",
      volser: "VOL001",
      trackNumber: 1,
      checksum: trackChecksum(data),
      data,
    });
    expect(reply).toMatchObject({ type: "ACK" });
    connection.close();
  });

  it("fails with LINK_DOWN when the initiator does not trust the certificate", async () => {
    const attempt = connectLink({
      host: "127.0.0.1",
      port: listener.address.port,
      secret: SECRET,
      serial: "GS00001",
      expectSerial: "GS00002",
      tls: {},
    });
    await expect(attempt).rejects.toMatchObject({ code: "LINK_DOWN" });
  });
});
