// A throw-away certificate authority for X.509 TLS tests, made with openssl: a CA, a server
// certificate for 127.0.0.1 and localhost, and a client certificate, all signed by the CA, written
// under the names libnbd (tls-certificates=DIR) and qemu (tls-creds-x509 dir=DIR) look for.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface TestCa {
  /** ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem, client-key.pem. */
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A directory with ca-cert.pem, client-cert.pem and client-key.pem, as clients want it. */
  readonly clientDir: string;
}

function openssl(args: readonly string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

/** A P-256 key and a certificate for `subject`, signed by the CA in `dir`. */
function issue(dir: string, name: string, options: { subject: string; extensions: string }): void {
  const key = path.join(dir, `${name}-key.pem`);
  const request = path.join(dir, `${name}.csr`);
  const extensions = path.join(dir, `${name}.ext`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  openssl(["req", "-new", "-key", key, "-subj", options.subject, "-out", request]);
  fs.writeFileSync(extensions, options.extensions);
  openssl([
    ...["x509", "-req", "-in", request, "-days", "1", "-sha256"],
    ...["-CA", path.join(dir, "ca-cert.pem"), "-CAkey", path.join(dir, "ca-key.pem")],
    ...["-CAcreateserial", "-extfile", extensions, "-out", path.join(dir, `${name}-cert.pem`)],
  ]);
}

/** Makes the CA and its certificates under `dir` (which must exist and be the caller's to remove). */
export function makeTestCa(dir: string, commonName = "gsnap test CA"): TestCa {
  const caKey = path.join(dir, "ca-key.pem");
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey]);
  openssl([
    ...[
      "req",
      "-x509",
      "-new",
      "-key",
      caKey,
      "-days",
      "1",
      "-sha256",
      "-subj",
      `/CN=${commonName}`,
    ],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
    ...["-out", path.join(dir, "ca-cert.pem")],
  ]);
  issue(dir, "server", {
    subject: "/CN=localhost",
    extensions:
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" +
      "keyUsage=critical,digitalSignature\n",
  });
  issue(dir, "client", {
    subject: "/CN=gsnap-test-client",
    extensions: "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n",
  });
  const clientDir = path.join(dir, "client");
  fs.mkdirSync(clientDir);
  for (const file of ["ca-cert.pem", "client-cert.pem", "client-key.pem"]) {
    fs.copyFileSync(path.join(dir, file), path.join(clientDir, file));
  }
  return {
    dir,
    caCert: path.join(dir, "ca-cert.pem"),
    serverCert: path.join(dir, "server-cert.pem"),
    serverKey: path.join(dir, "server-key.pem"),
    clientDir,
  };
}
