// The gsnap CLI against a real `gsnap serve` process: every command, its output, its errors and
// exit codes.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { CLI_PATH, runGsnap, type ServeProcess, startServe } from "../src/testing/serve-process.js";

const exitOf = (code: keyof typeof ERROR_CODES) => ERROR_CODES[code].exitCode;

describe.skipIf(!fs.existsSync(CLI_PATH))("gsnap CLI against a real server", () => {
  let server: ServeProcess;

  beforeAll(async () => {
    server = await startServe({ args: ["--serial", "0000012345", "--ssid", "01A0,01A1"] });
  });

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    // The server flushed and closed its store: a direct check finds it consistent.
    expect((await runGsnap(["fsck", server.dataDir])).code).toBe(0);
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("shows the system", async () => {
    const text = await server.cli("system", "show");
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("0000012345");
    expect(text.stdout).toContain("01A0, 01A1");
    const json = JSON.parse((await server.cli("system", "show", "--json")).stdout);
    expect(json).toMatchObject({ serial: "0000012345", ssids: ["01A0", "01A1"] });
  });

  it("creates, lists, shows and deletes volumes", async () => {
    const created = await server.cli("volume", "create", "CLI001", "--model", "3390-9", "--json");
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      volser: "CLI001",
      cylinders: 10_017,
      ssid: "01A0",
    });
    expect(
      (await server.cli("volume", "create", "CLI002", "--cylinders", "20", "--ssid", "01a1")).code,
    ).toBe(0);
    const list = await server.cli("volume", "list");
    expect(list.stdout).toMatch(/VOLSER\s+SSID\s+MODEL/);
    expect(list.stdout).toMatch(/CLI002\s+01A1\s+3390-A\s+20/);
    const shown = await server.cli("volume", "show", "CLI002");
    expect(shown.stdout).toContain("20 cylinders x 15 heads");
    expect(shown.stdout).toMatch(/allocated:\s+0 tracks/);
    expect((await server.cli("volume", "delete", "CLI002")).code).toBe(0);
    const after = JSON.parse((await server.cli("volume", "list", "--json")).stdout) as {
      volser: string;
    }[];
    expect(after.map((volume) => volume.volser)).not.toContain("CLI002");
  });

  it("snaps extents and reports the tracks", async () => {
    await server.cli("volume", "create", "SNAPA", "--cylinders", "30");
    await server.cli("volume", "create", "SNAPB", "--cylinders", "30");
    const same = await server.cli("snap", "SNAPA:0.0-9.14", "SNAPB");
    expect(same.code).toBe(0);
    expect(same.stdout).toContain("Snapped 150 tracks");
    const moved = JSON.parse(
      (await server.cli("snap", "SNAPA:0.0-0.14", "SNAPB:20.0-20.14", "--json")).stdout,
    );
    expect(moved.tracks).toBe(15);
  });

  it("exits with each error's own code and prints it on stderr", async () => {
    const cases: [string[], keyof typeof ERROR_CODES][] = [
      [["volume", "create", "bad!"], "VOLSER_INVALID"],
      [["volume", "create", "CLI001"], "VOLUME_EXISTS"],
      [["volume", "create", "NEW1", "--model", "3380-K"], "MODEL_UNKNOWN"],
      [["volume", "create", "NEW2", "--cylinders", "2000000"], "CYLINDERS_INVALID"],
      [["volume", "create", "NEW3", "--ssid", "0002"], "SSID_INVALID"],
      [["volume", "show", "NOPE"], "VOLUME_NOT_FOUND"],
      [["volume", "delete", "NOPE"], "VOLUME_NOT_FOUND"],
      [["snap", "SNAPA:0.0-9.14", "SNAPB:0.0-0.14"], "EXTENT_SIZE_MISMATCH"],
      [["snap", "SNAPA:0.0-9.14", "SNAPA:5.0-14.14"], "EXTENTS_OVERLAP"],
      [["snap", "SNAPA:0.0-99.14", "SNAPB"], "CYLINDER_OUT_OF_RANGE"],
      [["snap", "SNAPA:0.0-0.15", "SNAPB"], "HEAD_OUT_OF_RANGE"],
      // This server runs without --link-secret: it makes no paths.
      [
        ["path", "establish", "--ssid", "01A0", "--to", "0000000002.01B0", "--link", "h:1"],
        "LINK_SECRET_MISSING",
      ],
      [
        ["path", "establish", "--ssid", "01A0", "--to", "2.01B0", "--link", "h"],
        "LINK_ADDRESS_INVALID",
      ],
      [["path", "remove", "--ssid", "01A0", "--to", "0000000002.01B0"], "PATH_NOT_FOUND"],
    ];
    for (const [args, code] of cases) {
      const result = await server.cli(...args);
      expect(result.code, args.join(" ")).toBe(exitOf(code));
      expect(result.stderr, args.join(" ")).toContain(code);
    }
  });

  it("keeps its data dir and every file in it to its user alone", async () => {
    await server.cli("volume", "create", "PRIV01", "--cylinders", "1");
    const mode = (file: string) => fs.statSync(file).mode & 0o777;
    expect(mode(server.dataDir)).toBe(0o700);
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(path.join(server.dataDir, dir), { withFileTypes: true })) {
        files.push(path.join(dir, entry.name));
        if (entry.isDirectory()) walk(path.join(dir, entry.name));
      }
    };
    walk("");
    expect(files).toEqual(expect.arrayContaining(["gsnap.lock", path.join("catalog", "data.mdb")]));
    for (const file of files) {
      expect({ file, open: mode(path.join(server.dataDir, file)) & 0o077 }).toEqual({
        file,
        open: 0,
      });
    }
    expect((await server.cli("volume", "delete", "PRIV01")).code).toBe(0);
  });

  it("takes its link secret from a file, which keeps it off its command line", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-secret-"));
    const secretFile = path.join(dir, "link-secret");
    fs.writeFileSync(secretFile, "file-s3cret-4f9a\n", { mode: 0o600 });
    const other = await startServe({
      args: ["--link", "127.0.0.1:0", "--link-secret-file", secretFile],
    });
    try {
      expect(other.output()).toMatch(/LINK {2}127\.0\.0\.1:\d+ {2}\(peer links, TCP\)/);
      const commandLine = fs.readFileSync(`/proc/${other.child.pid}/cmdline`, "utf8");
      expect(commandLine).toContain(secretFile);
      expect(commandLine).not.toContain("file-s3cret-4f9a");
      expect(other.output()).not.toMatch(/the link secret is given with --link-secret/);
    } finally {
      expect(await other.stop()).toBe(0);
      fs.rmSync(other.dataDir, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes its link secret from GSNAP_LINK_SECRET, and warns of a secret given as a flag", async () => {
    // startServe gives the API token with --token, as a script might.
    const other = await startServe({
      args: ["--link", "127.0.0.1:0"],
      env: { GSNAP_LINK_SECRET: "env-s3cret" },
    });
    try {
      expect(other.output()).toMatch(/LINK {2}127\.0\.0\.1:\d+ {2}\(peer links, TCP\)/);
      expect(other.output()).toMatch(
        /the API token is given with --token, on the command line that ps shows every user: use --token-file or GSNAP_SERVE_TOKEN/,
      );
      expect(other.output()).not.toMatch(/the link secret is given with --link-secret/);
    } finally {
      expect(await other.stop()).toBe(0);
      fs.rmSync(other.dataDir, { recursive: true, force: true });
    }
  });

  it("makes a data dir open to others its user's alone when it starts on it", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-open-"));
    fs.chmodSync(dataDir, 0o755);
    const other = await startServe({ dataDir });
    try {
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(other.output()).toMatch(/the data dir was open to other users/);
    } finally {
      expect(await other.stop()).toBe(0);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("has subsystem 01A0 by default, and warns of volumes in a subsystem it lacks, naming the --ssid for them", async () => {
    // A data dir made when the default SSID was 0001, started again with the defaults.
    const before = await startServe({ args: ["--ssid", "0001"] });
    let after: ServeProcess | undefined;
    try {
      const created = await before.cli("volume", "create", "OLD001", "--cylinders", "1");
      expect(created.code, created.stderr).toBe(0);
      expect(await before.stop()).toBe(0);
      after = await startServe({ dataDir: before.dataDir });
      const shown = JSON.parse((await after.cli("system", "show", "--json")).stdout);
      expect(shown.ssids).toEqual(["01A0"]);
      expect(after.output()).toContain(
        "volumes are in subsystems this system does not have (0001): no path, pair or GSC can name them; start it with --ssid 01A0,0001",
      );
      // Still served as they were.
      const volume = JSON.parse((await after.cli("volume", "show", "OLD001", "--json")).stdout);
      expect(volume.ssid).toBe("0001");
    } finally {
      await before.stop();
      if (after !== undefined) expect(await after.stop()).toBe(0);
      fs.rmSync(before.dataDir, { recursive: true, force: true });
    }
  });

  it("refuses a wrong token with UNAUTHORIZED, naming the server and where the token came from", async () => {
    const result = await runGsnap(["volume", "list", "--api", server.apiUrl, "--token", "wrong"]);
    expect(result.code).toBe(exitOf("UNAUTHORIZED"));
    expect(result.stderr).toContain(`(server ${server.apiUrl}, from --api; token from --token)`);
    // Run where another system's data dir is: its token file is the one tried, and named.
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-cwd-"));
    fs.mkdirSync(path.join(elsewhere, "gsnap-data"));
    fs.writeFileSync(path.join(elsewhere, "gsnap-data", "token"), "another-systems-token\n");
    try {
      const fromFile = await runGsnap(["volume", "list"], { GSNAP_API: server.apiUrl }, elsewhere);
      expect(fromFile.code).toBe(exitOf("UNAUTHORIZED"));
      expect(fromFile.stderr).toContain(
        `(server ${server.apiUrl}, from GSNAP_API; token from the file ${path.join(elsewhere, "gsnap-data", "token")})`,
      );
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("reports an unreachable server with SERVER_UNREACHABLE", async () => {
    const result = await runGsnap([
      "system",
      "show",
      "--api",
      "http://127.0.0.1:1",
      "--token",
      "x",
    ]);
    expect(result.code).toBe(exitOf("SERVER_UNREACHABLE"));
    expect(result.stderr).toContain("Cannot reach the gsnap server");
  });

  it("lists no paths on a server without a link secret, and says its link is off", async () => {
    const listed = await server.cli("path", "list", "--json");
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    expect((await server.cli("path", "list")).stdout).toContain("(none)");
    expect(server.output()).toContain("LINK  off");
    expect(server.linkAddress).toBeUndefined();
  });

  it("asks the server to check its store", async () => {
    const result = await server.cli("fsck", "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).ok).toBe(true);
  });

  it("gives help with an example on every command, and exit 2 on a usage error", async () => {
    for (const command of [
      ["serve"],
      ["system", "show"],
      ["volume", "create"],
      ["volume", "list"],
      ["volume", "show"],
      ["volume", "delete"],
      ["snap"],
      ["fsck"],
      ["path", "establish"],
      ["path", "list"],
      ["path", "remove"],
    ]) {
      const help = await runGsnap([...command, "--help"]);
      expect(help.code, command.join(" ")).toBe(0);
      expect(help.stdout, command.join(" ")).toMatch(/Examples?:/);
    }
    expect((await runGsnap(["volume", "create"])).code).toBe(2);
    expect((await runGsnap(["frobnicate"])).code).toBe(2);
  });
});
