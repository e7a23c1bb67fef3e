import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { codeOf } from "../testing/error-code.js";
import { makeTestCa } from "../testing/tls-ca.js";
import { readConfigFile, resolveConfig } from "./config.js";
import { loadNbdTls, resolveNbdTls } from "./nbd-tls-config.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-nbd-tls-config-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const where = path.join(dir, name);
  fs.writeFileSync(where, text);
  return where;
}

/** The message of the GsnapError `run` throws, after checking its code. */
function refusal(run: () => unknown): string {
  expect(codeOf(run)).toBe("REQUEST_INVALID");
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

describe("NBD TLS settings", () => {
  it("is off by default and with --nbd-tls off", () => {
    expect(resolveConfig({}, {}).nbdTls).toBeUndefined();
    expect(resolveNbdTls({ nbdTls: "off" })).toBeUndefined();
    // An explicit off keeps the keys of a config file unused.
    expect(resolveNbdTls({ nbdTls: "off", nbdTlsPsk: "/etc/keys.psk" })).toBeUndefined();
  });

  it("takes keys or a certificate from the config file, the flags winning", () => {
    const config = file(
      "serve.json",
      JSON.stringify({ nbdTls: "on", nbdTlsCert: "/c.pem", nbdTlsKey: "/k.pem" }),
    );
    expect(resolveConfig(readConfigFile(config), {}).nbdTls).toEqual({
      mode: "on",
      credentials: { kind: "x509", certPath: "/c.pem", keyPath: "/k.pem", caPath: undefined },
    });
    expect(
      resolveConfig({ nbdTls: "on", nbdTlsPsk: "/k.psk" }, { nbdTls: "require" }).nbdTls,
    ).toEqual({ mode: "require", credentials: { kind: "psk", pskPath: "/k.psk" } });
  });

  it("refuses a bad mode, missing or mixed credentials, and keys without a mode, naming the flags", () => {
    expect(refusal(() => resolveNbdTls({ nbdTls: "yes" }))).toMatch(
      /--nbd-tls "yes": use off, on or require/,
    );
    expect(refusal(() => resolveNbdTls({ nbdTls: "require" }))).toMatch(
      /--nbd-tls require: give --nbd-tls-psk FILE, or --nbd-tls-cert and --nbd-tls-key/,
    );
    expect(refusal(() => resolveNbdTls({ nbdTls: "on", nbdTlsCert: "/c.pem" }))).toMatch(
      /--nbd-tls-key/,
    );
    expect(
      refusal(() => resolveNbdTls({ nbdTls: "on", nbdTlsPsk: "/k.psk", nbdTlsCa: "/ca.pem" })),
    ).toMatch(/Cannot use --nbd-tls-ca with --nbd-tls-psk/);
    expect(refusal(() => resolveNbdTls({ nbdTlsPsk: "/k.psk" }))).toMatch(
      /Cannot use --nbd-tls-psk: NBD TLS is off; give --nbd-tls on or --nbd-tls require/,
    );
    expect(refusal(() => resolveNbdTls({ nbdTls: "on", nbdTlsPsk: "" }))).toMatch(/file path/);
    expect(
      refusal(() => resolveNbdTls({ nbdTls: "on", nbdTlsPsk: 5 as unknown as string })),
    ).toMatch(/--nbd-tls-psk: give a file path/);
  });
});

describe("loading NBD TLS credentials at start", () => {
  it("reads a psktool file into keys", () => {
    const psk = file("good.psk", `alice:${"ab".repeat(32)}\n`);
    const loaded = loadNbdTls({ mode: "require", credentials: { kind: "psk", pskPath: psk } });
    expect(loaded.mode).toBe("require");
    expect(loaded.credentials.kind === "psk" && [...loaded.credentials.keys.keys()]).toEqual([
      "alice",
    ]);
  });

  it("refuses a key file it cannot read or parse, naming the file and the line", () => {
    const missing = path.join(dir, "missing.psk");
    expect(
      refusal(() => loadNbdTls({ mode: "on", credentials: { kind: "psk", pskPath: missing } })),
    ).toMatch(/Cannot read --nbd-tls-psk ".*missing\.psk": ENOENT/);
    const bad = file("bad.psk", `alice:${"ab".repeat(32)}\nbob\n`);
    expect(
      refusal(() => loadNbdTls({ mode: "on", credentials: { kind: "psk", pskPath: bad } })),
    ).toMatch(/Cannot use the NBD TLS keys in ".*bad\.psk": line 2 is not IDENTITY:HEXKEY/);
  });

  it("checks a certificate against its key at start, and refuses PEM that is not one", () => {
    const caDir = fs.mkdtempSync(path.join(dir, "ca-"));
    const ca = makeTestCa(caDir);
    const good = loadNbdTls({
      mode: "on",
      credentials: {
        kind: "x509",
        certPath: ca.serverCert,
        keyPath: ca.serverKey,
        caPath: ca.caCert,
      },
    });
    expect(good.credentials.kind).toBe("x509");
    const clientKey = path.join(ca.clientDir, "client-key.pem");
    expect(
      refusal(() =>
        loadNbdTls({
          mode: "on",
          credentials: { kind: "x509", certPath: ca.serverCert, keyPath: clientKey },
        }),
      ),
    ).toMatch(
      /Cannot use the NBD TLS certificate ".*server-cert\.pem" with key ".*client-key\.pem": .*mismatch/,
    );
    const junk = file("junk.pem", "not a certificate\n");
    expect(
      refusal(() =>
        loadNbdTls({
          mode: "on",
          credentials: { kind: "x509", certPath: junk, keyPath: ca.serverKey },
        }),
      ),
    ).toMatch(/Cannot use the NBD TLS certificate ".*junk\.pem"/);
  });
});
