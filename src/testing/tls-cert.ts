// A self-signed certificate for 127.0.0.1 and localhost, made by openssl for TLS tests, in a temp
// dir that the caller removes.

import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestCertificate {
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export function makeTestCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(tmpdir(), "gsnap-tls-"));
  const certPath = path.join(dir, "cert.pem");
  const keyPath = path.join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
      ...["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ...["-keyout", keyPath, "-out", certPath],
    ],
    { stdio: "ignore" },
  );
  return { dir, certPath, keyPath };
}
