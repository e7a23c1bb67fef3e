// The peer link over TLS, with a self-signed certificate made for the test by openssl.

import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCertificate } from "../testing/tls-cert.js";
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
  ({ dir, certPath, keyPath } = makeTestCertificate());
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
