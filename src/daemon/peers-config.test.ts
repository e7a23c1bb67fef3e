import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveConfig } from "./config.js";
import { parsePeersFile } from "./peers-config.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-peers-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  fs.writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
};

function refusal(settings: object): { code: string; message: string } | undefined {
  try {
    resolveConfig({}, settings);
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message };
  }
  return undefined;
}

describe("peer settings of gsnap serve", () => {
  it("takes a secret per peer from --link-peer files and a --link-peers file, with the shared secret besides", () => {
    const one = file("one.secret", "secret-of-1\n");
    const peers = file("peers", "# serial:secret\n\n0000000003:secret-of-3\n 0000000004:a:b \n");
    const config = resolveConfig(
      { linkPeers: peers },
      { linkPeer: [`0000000001:${one}`], linkSecret: "shared" },
    );
    expect(config.linkPeers).toEqual(
      new Map([
        ["0000000001", "secret-of-1"],
        ["0000000003", "secret-of-3"],
        ["0000000004", "a:b"],
      ]),
    );
    expect(config.linkSecret).toBe("shared");
    expect(resolveConfig({}, { linkPeer: `0000000001:${one}` }).linkPeers?.size).toBe(1);
    expect(resolveConfig({}, {}).linkPeers).toBeUndefined();
  });

  it("refuses bad entries with REQUEST_INVALID naming the flag or file and line, never the secret", () => {
    const one = file("one.secret", "secret-of-1\n");
    expect(refusal({ linkPeer: "0000000001" })).toEqual({
      code: "REQUEST_INVALID",
      message: 'Cannot use --link-peer "0000000001": write it as SERIAL:SECRET_FILE',
    });
    expect(refusal({ linkPeer: `bad serial:${one}` })?.message).toMatch(
      /^Cannot use --link-peer "bad serial:.+": Cannot use serial/,
    );
    expect(refusal({ linkPeer: `0000000001:${path.join(dir, "missing")}` })?.message).toMatch(
      /^Cannot read the link secret of --link-peer from ".+missing": ENOENT/,
    );
    expect(refusal({ linkPeer: `0000000001:${file("empty", "\n")}` })?.code).toBe(
      "REQUEST_INVALID",
    );
    expect(refusal({ linkPeer: [`0000000001:${one}`, `0000000001:${one}`] })?.message).toMatch(
      /serial "0000000001" is named twice/,
    );
    const peers = file("bad-peers", "0000000003:ok\nnot-a-line-hunter2\n");
    const bad = refusal({ linkPeers: peers });
    expect(bad).toEqual({
      code: "REQUEST_INVALID",
      message: `Cannot use --link-peers file "${peers}" line 2: write it as SERIAL:SECRET`,
    });
    expect(bad?.message).not.toMatch(/hunter2/);
    expect(refusal({ linkPeers: path.join(dir, "missing") })?.message).toMatch(
      /^Cannot read --link-peers file ".+missing"/,
    );
    const twice = file("twice", `0000000001:x\n`);
    expect(refusal({ linkPeers: twice, linkPeer: `0000000001:${one}` })?.message).toMatch(
      /line 1: serial "0000000001" is named twice/,
    );
  });

  it("parses a peers file of SERIAL:SECRET lines, skipping blanks and comments", () => {
    expect(parsePeersFile("# c\n\nA1:s\r\nB2:t:u\n", "f")).toEqual([
      { serial: "A1", secret: "s", line: 3 },
      { serial: "B2", secret: "t:u", line: 4 },
    ]);
  });

  it("takes a reservation timeout of 1 to 604800 seconds and refuses others with REQUEST_INVALID", () => {
    expect(resolveConfig({}, {}).reservationTimeoutMs).toBe(3_600_000);
    expect(resolveConfig({ reservationTimeout: 5 }, {}).reservationTimeoutMs).toBe(5_000);
    expect(resolveConfig({}, { reservationTimeout: "604800" }).reservationTimeoutMs).toBe(
      604_800_000,
    );
    for (const bad of [0, "1.5", "x", 604_801, true]) {
      expect(refusal({ reservationTimeout: bad })?.message).toMatch(
        /^Cannot use --reservation-timeout .+: give whole seconds from 1 to 604800$/,
      );
    }
  });
});
