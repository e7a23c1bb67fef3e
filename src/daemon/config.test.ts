import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { codeOf } from "../testing/error-code.js";
import { parseHostPort, readConfigFile, resolveConfig } from "./config.js";
import { loadIdentity } from "./identity.js";
import { DEFAULT_LIMITS } from "./limits-config.js";
import { environmentSecrets, secretFlagWarnings } from "./secrets-config.js";

describe("serve configuration", () => {
  it("starts from the embedded defaults", () => {
    expect(resolveConfig({}, {})).toEqual({
      data: "./gsnap-data",
      serial: undefined,
      ssids: ["01A0"],
      api: { host: "127.0.0.1", port: 8480 },
      nbd: { host: "127.0.0.1", port: 10809 },
      link: { host: "127.0.0.1", port: 8481 },
      token: undefined,
      logLevel: "info",
      syncTimeoutMs: 5000,
      autoResume: true,
      chunks: { kind: "local" },
      journalBytes: 128 * 1024 * 1024,
      spaceReserveBytes: 64 * 1024 * 1024,
      limits: DEFAULT_LIMITS,
      reservationTimeoutMs: 3_600_000,
    });
    expect(DEFAULT_LIMITS.nbd).toEqual({
      maxConnections: 64,
      maxPerAddress: 16,
      handshakeTimeoutMs: 30_000,
      idleTimeoutMs: 600_000,
    });
  });

  it("takes connection caps and timeouts from flags and the file, and refuses bad ones with REQUEST_INVALID", () => {
    const limits = resolveConfig(
      { nbdMaxConnections: 8, linkIdleTimeout: 0, fdReserve: 64 },
      { nbdMaxPerAddress: "2", apiHandshakeTimeout: "500", apiIdleTimeout: "1000" },
    ).limits;
    expect(limits.nbd).toMatchObject({ maxConnections: 8, maxPerAddress: 2 });
    expect(limits.api).toMatchObject({ handshakeTimeoutMs: 500, idleTimeoutMs: 1000 });
    expect(limits.link.idleTimeoutMs).toBe(0);
    expect(limits.fdReserve).toBe(64);
    // A smaller cap pulls the default per-address cap down with it.
    expect(resolveConfig({}, { linkMaxConnections: "4" }).limits.link.maxPerAddress).toBe(4);
    const bad = [
      { nbdMaxConnections: "0" },
      { apiMaxConnections: "65537" },
      { nbdMaxPerAddress: "17", nbdMaxConnections: "16" },
      { linkMaxPerAddress: "1.5" },
      { nbdHandshakeTimeout: "0" },
      { apiHandshakeTimeout: "600001" },
      { nbdIdleTimeout: "50" },
      { linkIdleTimeout: "soon" },
      { fdReserve: "-1" },
      { fdReserve: true },
    ] as unknown as object[];
    for (const settings of bad) {
      expect(
        codeOf(() => resolveConfig({}, settings)),
        JSON.stringify(settings),
      ).toBe("REQUEST_INVALID");
    }
  });

  it("takes a journal of 16 to 16384 MiB and refuses others with REQUEST_INVALID", () => {
    expect(resolveConfig({ journalMib: 16 }, {}).journalBytes).toBe(16 * 1024 * 1024);
    expect(resolveConfig({}, { journalMib: "1024" }).journalBytes).toBe(1024 ** 3);
    for (const bad of ["15", "16385", "1.5", "big", true, [64]] as unknown as string[]) {
      expect(codeOf(() => resolveConfig({}, { journalMib: bad }))).toBe("REQUEST_INVALID");
    }
  });

  it("takes a space reserve of 0 to 65536 MiB and refuses others with REQUEST_INVALID", () => {
    expect(resolveConfig({ spaceReserveMib: 0 }, {}).spaceReserveBytes).toBe(0);
    expect(resolveConfig({}, { spaceReserveMib: "8" }).spaceReserveBytes).toBe(8 * 1024 * 1024);
    for (const bad of ["-1", "65537", "1.5", "lots", true, [5]] as unknown as string[]) {
      expect(codeOf(() => resolveConfig({}, { spaceReserveMib: bad }))).toBe("REQUEST_INVALID");
    }
  });

  it("takes a sync timeout of 1 to 600000 ms and refuses others with REQUEST_INVALID", () => {
    expect(resolveConfig({ syncTimeout: 250 }, {}).syncTimeoutMs).toBe(250);
    expect(resolveConfig({}, { syncTimeout: "1000" }).syncTimeoutMs).toBe(1000);
    for (const bad of ["0", "600001", "1.5", "soon", true, [5]] as unknown as string[]) {
      expect(codeOf(() => resolveConfig({}, { syncTimeout: bad }))).toBe("REQUEST_INVALID");
    }
  });

  it("resumes pairs by themselves unless autoResume is false; the flag wins over the file; not-booleans are refused", () => {
    expect(resolveConfig({}, {}).autoResume).toBe(true);
    expect(resolveConfig({ autoResume: false }, {}).autoResume).toBe(false);
    expect(resolveConfig({ autoResume: true }, { autoResume: false }).autoResume).toBe(false);
    for (const bad of ["no", 0, null] as unknown as boolean[]) {
      expect(codeOf(() => resolveConfig({ autoResume: bad }, {}))).toBe("REQUEST_INVALID");
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

  it("reads the API token and the link secret from files, off the command line", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-secrets-"));
    try {
      const file = (name: string, text: string) => {
        fs.writeFileSync(path.join(dir, name), text);
        return path.join(dir, name);
      };
      const token = file("token", "t0k3n-from-file\n");
      const secret = file("secret", "s3cret-from-file");
      const config = resolveConfig({ linkSecretFile: secret }, { tokenFile: token });
      expect(config.token).toBe("t0k3n-from-file");
      expect(config.linkSecret).toBe("s3cret-from-file");
      const refusal = (settings: object) => {
        try {
          resolveConfig({}, settings);
        } catch (error) {
          return { code: (error as { code: string }).code, message: (error as Error).message };
        }
        return undefined;
      };
      expect(refusal({ token: "x", tokenFile: token })).toEqual({
        code: "REQUEST_INVALID",
        message: "Cannot use the API token: give --token or --token-file, not both",
      });
      expect(refusal({ linkSecretFile: path.join(dir, "missing") })?.message).toMatch(
        /^Cannot read the link secret from ".+missing": ENOENT/,
      );
      for (const text of ["", "\n", "two\nlines\n"]) {
        expect(refusal({ tokenFile: file("bad", text) })).toEqual({
          code: "REQUEST_INVALID",
          message: `Cannot use the API token in "${path.join(dir, "bad")}": it must hold one line, not empty`,
        });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
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

  it("keeps chunks in an S3 bucket under a prefix, with the S3 settings from flags or the file", () => {
    const config = resolveConfig(
      { chunks: "s3://gsnap-chunks/a//b", s3Endpoint: "http://127.0.0.1:7480", s3CacheMib: 8 },
      { s3Region: "eu-1", s3AccessKey: "AK", s3SecretKey: "SK", s3SegmentMib: "4" },
    );
    expect(config.chunks).toEqual({
      kind: "s3",
      url: "s3://gsnap-chunks/a/b/",
      bucket: "gsnap-chunks",
      prefix: "a/b/",
      endpoint: "http://127.0.0.1:7480",
      region: "eu-1",
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
      cacheBytes: 8 * 1024 * 1024,
      segmentBytes: 4 * 1024 * 1024,
    });
  });

  it("leaves S3 endpoint, region and keys to the AWS environment when not given", () => {
    expect(resolveConfig({}, { chunks: "s3://bucket" }).chunks).toEqual({
      kind: "s3",
      url: "s3://bucket/",
      bucket: "bucket",
      prefix: "",
      endpoint: undefined,
      region: undefined,
      credentials: undefined,
      cacheBytes: 256 * 1024 * 1024,
      segmentBytes: 32 * 1024 * 1024,
    });
    expect(resolveConfig({ chunks: "local" }, {}).chunks).toEqual({ kind: "local" });
  });

  it("refuses bad chunk settings with REQUEST_INVALID and says which and why", () => {
    const s3 = { chunks: "s3://bucket/p" };
    const cases: [object, RegExp][] = [
      [{ chunks: "file:///x" }, /--chunks: "file:\/\/\/x" is neither local nor s3:/],
      [{ chunks: "s3://" }, /names no bucket/],
      [{ chunks: "s3://B_AD" }, /not a valid S3 bucket name/],
      [{ chunks: 5 }, /--chunks/],
      [{ s3Endpoint: "http://h:1" }, /--s3-endpoint: chunks are local/],
      [{ s3CacheMib: 8 }, /--s3-cache-mib: chunks are local/],
      [{ ...s3, s3Endpoint: "ftp://h:21" }, /--s3-endpoint: .* is not an http or https URL/],
      [{ ...s3, s3Endpoint: "127.0.0.1:7480" }, /--s3-endpoint: "127.0.0.1:7480" is not a URL/],
      [{ ...s3, s3Endpoint: "http://ak:sk@h:1" }, /--s3-endpoint: the URL holds credentials/],
      [{ ...s3, s3Region: "" }, /--s3-region: it is empty/],
      [{ ...s3, s3AccessKey: "AK" }, /--s3-access-key: give both/],
      [{ ...s3, s3SecretKey: "SK" }, /--s3-secret-key: give both/],
      [{ ...s3, s3AccessKey: 3, s3SecretKey: "SK" }, /--s3-access-key: it is not text/],
      [
        { ...s3, s3CacheMib: "0" },
        /--s3-cache-mib: "0" is not a whole number of MiB from 1 to 65536/,
      ],
      [{ ...s3, s3CacheMib: 1.5 }, /--s3-cache-mib/],
      [{ ...s3, s3CacheMib: true }, /--s3-cache-mib/],
      [{ ...s3, s3SegmentMib: "257" }, /--s3-segment-mib: "257" is not .* from 1 to 256/],
      [{ ...s3, s3SegmentMib: "lots" }, /--s3-segment-mib/],
    ];
    for (const [settings, message] of cases) {
      expect(() => resolveConfig(settings as never, {}), JSON.stringify(settings)).toThrow(
        expect.objectContaining({
          code: "REQUEST_INVALID",
          message: expect.stringMatching(message),
        }),
      );
    }
  });

  it("never puts the S3 secret key in a message", () => {
    for (const settings of [
      { chunks: "s3://bucket", s3SecretKey: "TOPSECRET" },
      { chunks: "local", s3SecretKey: "TOPSECRET" },
    ]) {
      expect(() => resolveConfig({}, settings)).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining("TOPSECRET") }),
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
    const s3 = { chunks: "s3://bucket/p", s3Endpoint: "http://h:1", s3CacheMib: 16 };
    fs.writeFileSync(file, JSON.stringify(s3));
    expect(readConfigFile(file)).toEqual(s3);
    fs.rmSync(dir, { recursive: true });
  });
});

describe("secrets from the environment and on the command line", () => {
  const environment = { GSNAP_SERVE_TOKEN: "env-token", GSNAP_LINK_SECRET: "env-secret" };

  it("takes GSNAP_SERVE_TOKEN and GSNAP_LINK_SECRET where no flag or file gives them", () => {
    expect(environmentSecrets(environment, {})).toEqual({
      token: "env-token",
      linkSecret: "env-secret",
    });
    expect(resolveConfig({}, environmentSecrets(environment, {}))).toMatchObject({
      token: "env-token",
      linkSecret: "env-secret",
    });
    // GSNAP_TOKEN is the CLI's, and an empty variable gives nothing.
    expect(environmentSecrets({ GSNAP_TOKEN: "cli", GSNAP_LINK_SECRET: "" }, {})).toEqual({});
  });

  it("lets a flag or a file win over the environment, without a clash", () => {
    expect(environmentSecrets(environment, { token: "flag", linkSecretFile: "/f" })).toEqual({});
    expect(environmentSecrets(environment, { tokenFile: "/t" })).toEqual({
      linkSecret: "env-secret",
    });
  });

  it("warns of each secret given as a flag, naming what to use instead", () => {
    expect(secretFlagWarnings({})).toEqual([]);
    const warnings = secretFlagWarnings({ token: "t", linkSecret: "s" });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/--token, on the command line that ps shows.+--token-file/);
    expect(warnings[1]).toMatch(/--link-secret, .+--link-secret-file.+GSNAP_LINK_SECRET/);
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
