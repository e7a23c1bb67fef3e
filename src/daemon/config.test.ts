import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { codeOf } from "../testing/error-code.js";
import { parseHostPort, readConfigFile, resolveConfig } from "./config.js";
import { loadIdentity } from "./identity.js";

describe("serve configuration", () => {
  it("starts from the embedded defaults", () => {
    expect(resolveConfig({}, {})).toEqual({
      data: "./gsnap-data",
      serial: undefined,
      ssids: ["0001"],
      api: { host: "127.0.0.1", port: 8480 },
      nbd: { host: "127.0.0.1", port: 10809 },
      link: { host: "127.0.0.1", port: 8481 },
      token: undefined,
      logLevel: "info",
      syncTimeoutMs: 5000,
    });
  });

  it("takes a sync timeout of 1 to 600000 ms and refuses others with REQUEST_INVALID", () => {
    expect(resolveConfig({ syncTimeout: 250 }, {}).syncTimeoutMs).toBe(250);
    expect(resolveConfig({}, { syncTimeout: "1000" }).syncTimeoutMs).toBe(1000);
    for (const bad of ["0", "600001", "1.5", "soon", true, [5]] as unknown as string[]) {
      expect(codeOf(() => resolveConfig({}, { syncTimeout: bad }))).toBe("REQUEST_INVALID");
    }
  });

  it("refuses link TLS paths and secrets from a config file that are not text", () => {
    const wrong = (settings: object) => codeOf(() => resolveConfig(settings as never, {}));
    expect(wrong({ linkCert: 3, linkKey: "/k.pem" })).toBe("REQUEST_INVALID");
    expect(wrong({ linkCert: "/c.pem", linkKey: "/k.pem", linkCa: 7 })).toBe("REQUEST_INVALID");
    expect(wrong({ linkSecret: 12 })).toBe("REQUEST_INVALID");
  });

  it("lets flags win over the config file", () => {
    const config = resolveConfig(
      { data: "/a", ssid: ["01a0", "01A1"], api: "0.0.0.0:1" },
      { data: "/b" },
    );
    expect(config.data).toBe("/b");
    expect(config.ssids).toEqual(["01A0", "01A1"]);
    expect(config.api).toEqual({ host: "0.0.0.0", port: 1 });
  });

  it("takes a comma-separated SSID list from a flag", () => {
    expect(resolveConfig({}, { ssid: "01A0,01a1" }).ssids).toEqual(["01A0", "01A1"]);
  });

  it("refuses bad values with their codes", () => {
    expect(() => resolveConfig({}, { ssid: "1" })).toThrow(
      expect.objectContaining({ code: "SSID_INVALID" }),
    );
    expect(() => resolveConfig({}, { serial: "x" })).toThrow(
      expect.objectContaining({ code: "SERIAL_INVALID" }),
    );
    expect(() => resolveConfig({}, { api: "8480" })).toThrow(
      expect.objectContaining({ code: "REQUEST_INVALID" }),
    );
    expect(() => resolveConfig({}, { logLevel: "loud" })).toThrow(
      expect.objectContaining({ code: "REQUEST_INVALID" }),
    );
  });

  it("takes the link secret and link TLS files from flags or the config file", () => {
    const config = resolveConfig(
      { linkSecret: "from-file", linkCert: "/c.pem", linkKey: "/k.pem" },
      { linkSecret: "s3cret", linkCa: "/ca.pem" },
    );
    expect(config.linkSecret).toBe("s3cret");
    expect(config.linkTls).toEqual({ certPath: "/c.pem", keyPath: "/k.pem", caPath: "/ca.pem" });
    expect(resolveConfig({}, {}).linkSecret).toBeUndefined();
    expect(resolveConfig({}, {}).linkTls).toBeUndefined();
  });

  it("refuses an empty link secret and link TLS without both certificate and key", () => {
    for (const settings of [
      { linkSecret: "" },
      { linkCert: "/c.pem" },
      { linkKey: "/k.pem" },
      { linkCa: "/ca.pem" },
    ]) {
      expect(() => resolveConfig({}, settings)).toThrow(
        expect.objectContaining({ code: "REQUEST_INVALID" }),
      );
    }
  });

  it("parses IPv6 addresses in brackets", () => {
    expect(parseHostPort("[::1]:10809", "nbd")).toEqual({ host: "::1", port: 10809 });
    expect(() => parseHostPort("[::1]:99999", "nbd")).toThrow(
      expect.objectContaining({ code: "REQUEST_INVALID" }),
    );
  });

  it("refuses a config file with an unknown key or bad JSON", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-config-"));
    const file = path.join(dir, "gsnap.json");
    fs.writeFileSync(file, JSON.stringify({ data: "/x", colour: "blue" }));
    expect(() => readConfigFile(file)).toThrow(/unknown key "colour"/);
    fs.writeFileSync(file, "{ nope");
    expect(() => readConfigFile(file)).toThrow(
      expect.objectContaining({ code: "REQUEST_INVALID" }),
    );
    fs.writeFileSync(file, JSON.stringify({ nbd: "127.0.0.1:0" }));
    expect(readConfigFile(file)).toEqual({ nbd: "127.0.0.1:0" });
    fs.rmSync(dir, { recursive: true });
  });
});

describe("identity", () => {
  it("generates a serial and a token once and keeps them", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-identity-"));
    const first = loadIdentity(dir, {});
    expect(first.serial).toMatch(/^[0-9A-Z]{10}$/);
    expect(first.tokenGenerated).toBe(true);
    expect(fs.statSync(path.join(dir, "token")).mode & 0o777).toBe(0o600);
    const second = loadIdentity(dir, {});
    expect(second).toEqual({ ...first, tokenGenerated: false });
    expect(loadIdentity(dir, { serial: "ABC", token: "t" })).toEqual({
      serial: "ABC",
      token: "t",
      tokenGenerated: false,
    });
    fs.rmSync(dir, { recursive: true });
  });
});
