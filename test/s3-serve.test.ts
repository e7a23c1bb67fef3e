// Real `gsnap serve` processes keeping their chunks in the test Ceph cluster's S3 bucket, each
// under a prefix of its own: real NBD clients in and out (with the read cache cold, so reads go
// to the object store), a GSC between a local and an S3-backed system both ways, and the start-up
// refusals: wrong secret, nothing listening, and a prefix another store holds.

import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { S3ObjectStore } from "../src/objects/s3-object-store.js";
import { missingNbdClientsNoticed, nbdcopy, qemuImg } from "../src/testing/nbd-clients.js";
import {
  cliOk,
  establishPath,
  exportsIdentical,
  leftovers,
  servedSystems,
  TRACK,
  writePattern,
} from "../src/testing/replication-process.js";
import { s3Available, s3SkipReason, testS3 } from "../src/testing/s3-test-store.js";
import { CLI_PATH, runGsnap, type ServeProcess, startServe } from "../src/testing/serve-process.js";

/** 60 cylinders, about 49 MiB: more than the read cache's 20 MiB floor. */
const CYLINDERS = 60;
const VOLUME_BYTES = CYLINDERS * 15 * TRACK;
/** Uploads of a few tens of MiB to a loopback radosgw take seconds; a minute means stuck. */
const UPLOAD_TIMEOUT_MS = 60_000;

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("s3 serve").length > 0;
const title = s3Available()
  ? "gsnap serve with chunks in S3"
  : `gsnap serve with chunks in S3 (skipped: ${s3SkipReason()})`;

const systems = servedSystems();
const servers: ServeProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.kill();
});
afterAll(async () => {
  await systems.cleanup();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gsnap-${name}-`));
  dirs.push(dir);
  return dir;
}

/** The flags of a system keeping its chunks under `prefix`, with 1 MiB segments and a small cache. */
function s3Args(prefix: string, overrides: Record<string, string> = {}): string[] {
  const s3 = testS3();
  const flags: Record<string, string> = {
    "--chunks": `s3://${s3.bucket}/${prefix}`,
    "--s3-endpoint": s3.endpoint,
    "--s3-region": s3.region,
    "--s3-access-key": s3.accessKeyId,
    "--s3-secret-key": s3.secretAccessKey,
    "--s3-segment-mib": "1",
    "--s3-cache-mib": "1",
    ...overrides,
  };
  return Object.entries(flags).flat();
}

function objectStoreAt(prefix: string): S3ObjectStore {
  const s3 = testS3();
  return new S3ObjectStore({
    bucket: s3.bucket,
    prefix: `${prefix}/`,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

async function startS3(prefix: string, dataDir?: string): Promise<ServeProcess> {
  const server = await startServe({ dataDir, args: s3Args(prefix) });
  servers.push(server);
  return server;
}

// biome-ignore lint/suspicious/noExplicitAny: the system as the API gives it.
async function systemInfo(server: ServeProcess): Promise<any> {
  const response = await fetch(`${server.apiUrl}/v1/system`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  expect(response.status).toBe(200);
  return response.json();
}

/** Waits until every staged segment is in the object store (sealing takes 2 s of idleness). */
async function uploaded(server: ServeProcess): Promise<void> {
  await expect
    .poll(async () => (await systemInfo(server)).chunks.stagedBytes, {
      timeout: UPLOAD_TIMEOUT_MS,
      interval: 250,
    })
    .toBe(0);
}

async function metric(server: ServeProcess, series: string): Promise<number> {
  const response = await fetch(`${server.apiUrl}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  const line = (await response.text())
    .split("\n")
    .find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

function stagedSegmentFiles(dataDir: string): string[] {
  return fs.readdirSync(path.join(dataDir, "staging")).filter((name) => name.endsWith(".seg"));
}

/** Random bytes with a 2 MiB zero run, so some tracks stay unmapped. */
function image(length: number): Buffer {
  const data = randomBytes(length);
  data.fill(0, 8 * 1024 * 1024, 10 * 1024 * 1024);
  return data;
}

async function restart(server: ServeProcess, prefix: string): Promise<ServeProcess> {
  expect(await server.stop()).toBe(0);
  return startS3(prefix, server.dataDir);
}

/** Copies an export out with nbdcopy and returns its bytes. */
async function copyOut(uri: string, dir: string): Promise<Buffer> {
  const file = path.join(dir, `out-${randomUUID()}.raw`);
  await nbdcopy([uri, file]);
  const data = fs.readFileSync(file);
  fs.rmSync(file);
  return data;
}

describe.skipIf(skip || !s3Available())(title, () => {
  it("takes an image in over NBD, uploads it, and serves it back from the bucket with a cold cache", async () => {
    const prefix = `serve/${randomUUID()}`;
    const dir = tempDir("s3-interop");
    let server = await startS3(prefix);
    expect(server.output()).toMatch(
      new RegExp(`CHUNKS {2}s3://${testS3().bucket}/${prefix}/ at \\S+ \\(staging \\S+staging\\)`),
    );
    expect(server.output()).not.toContain(testS3().secretAccessKey);
    await cliOk(server, "volume", "create", "S3VOL1", "--cylinders", String(CYLINDERS));
    const data = image(VOLUME_BYTES);
    const source = path.join(dir, "source.raw");
    fs.writeFileSync(source, data);
    await qemuImg(["convert", "-n", "-f", "raw", "-O", "raw", source, server.nbdUri("S3VOL1")]);

    await uploaded(server);
    expect(stagedSegmentFiles(server.dataDir)).toEqual([]);
    const objects = objectStoreAt(prefix);
    try {
      const keys = await objects.list("");
      const segments = keys.filter((object) => object.key.startsWith("segments/"));
      expect(keys.map((object) => object.key)).toContain("gsnap-store.json");
      expect(segments.length).toBeGreaterThan(1);
      const segmentBytes = segments.reduce((sum, object) => sum + object.sizeBytes, 0);
      expect(segmentBytes).toBeGreaterThanOrEqual(VOLUME_BYTES - 2 * 1024 * 1024);
    } finally {
      objects.close();
    }

    // A restart empties the read cache: every read below starts in the object store.
    server = await restart(server, prefix);
    const gets = 'gsnap_object_store_requests_total{op="get"}';
    // Opening reads one object (the prefix's claim); no chunk has been read yet.
    expect(await metric(server, gets)).toBe(1);
    expect(await metric(server, "gsnap_chunk_cache_bytes")).toBe(0);
    await qemuImg(["compare", "-f", "raw", "-F", "raw", source, server.nbdUri("S3VOL1")]);
    expect(await metric(server, gets)).toBeGreaterThan(1);
    expect(await metric(server, "gsnap_chunk_cache_misses_total")).toBeGreaterThan(0);

    // Sub-track writes at odd offsets: each reads its track from the object store first.
    const writes = [1, TRACK - 1, 1_000_001, 30 * 15 * TRACK + 777, 9 * 1024 * 1024 + 3];
    writes.push(VOLUME_BYTES - 513);
    for (const [index, offset] of writes.entries()) {
      const pattern = 0x41 + index;
      await writePattern(server.nbdUri("S3VOL1"), offset, 512, pattern);
      data.fill(pattern, offset, offset + 512);
    }
    expect((await copyOut(server.nbdUri("S3VOL1"), dir)).equals(data)).toBe(true);

    // And they too reach the bucket and come back after another restart.
    await uploaded(server);
    expect(stagedSegmentFiles(server.dataDir)).toEqual([]);
    server = await restart(server, prefix);
    expect((await copyOut(server.nbdUri("S3VOL1"), dir)).equals(data)).toBe(true);
    expect(await metric(server, "gsnap_object_uploads_failed_total")).toBe(0);
  });

  it("runs a GSC from a local system to an S3 system and back", async () => {
    const prefix = `gsc/${randomUUID()}`;
    const dir = tempDir("s3-gsc");
    const cylinders = 20;
    const local = await systems.serve("0000000001", "01A0");
    let remote = await systems.serve("0000000002", "01B0", { args: s3Args(prefix) });
    await cliOk(local, "volume", "create", "VOL001", "--cylinders", String(cylinders));
    await cliOk(local, "volume", "create", "VOL002", "--cylinders", String(cylinders));
    await cliOk(remote, "volume", "create", "VOL900", "--cylinders", String(cylinders));
    const source = path.join(dir, "source.raw");
    fs.writeFileSync(source, image(cylinders * 15 * TRACK));
    await qemuImg(["convert", "-n", "-f", "raw", "-O", "raw", source, local.nbdUri("VOL001")]);

    // Local to S3: the target's chunks go to the bucket.
    const there = await gscOverPath(local, {
      ssid: "01A0",
      target: "0000000002.01B0",
      link: remote.linkAddress as string,
      request: `VOL001:0.0-${cylinders - 1}.14, *, 0000000002.01B0.VOL900`,
    });
    expect(there).toMatchObject({ state: "succeeded", resultCode: "OK" });
    expect(await leftovers(local, remote)).toEqual([]);
    await uploaded(remote);
    expect(await exportsIdentical(local.nbdUri("VOL001"), remote.nbdUri("VOL900"))).toBe(true);

    // S3 to local, from a restarted (cold) S3 system: the source's chunks come from the bucket.
    expect(await remote.stop()).toBe(0);
    remote = await systems.serve("0000000002", "01B0", {
      dataDir: remote.dataDir,
      args: s3Args(prefix),
    });
    const back = await gscOverPath(remote, {
      ssid: "01B0",
      target: "0000000001.01A0",
      link: local.linkAddress as string,
      request: `VOL900:0.0-${cylinders - 1}.14, *, 0000000001.01A0.VOL002`,
    });
    expect(back).toMatchObject({ state: "succeeded", resultCode: "OK" });
    // More than the one GET of the claim at start: the copy read the source's chunks remotely.
    expect(await metric(remote, 'gsnap_object_store_requests_total{op="get"}')).toBeGreaterThan(1);
    expect(await leftovers(local, remote)).toEqual([]);
    expect(await exportsIdentical(local.nbdUri("VOL002"), remote.nbdUri("VOL900"))).toBe(true);
    expect(await exportsIdentical(local.nbdUri("VOL002"), local.nbdUri("VOL001"))).toBe(true);
  });

  it("refuses to start with a wrong secret key, and says so without printing it", async () => {
    const result = await runServe(`refused/${randomUUID()}`, {
      "--s3-secret-key": "not-the-key-42",
    });
    expect(result.code).toBe(ERROR_CODES.OBJECT_STORE_REFUSED.exitCode);
    expect(result.stderr).toMatch(
      /^gsnap: OBJECT_STORE_REFUSED: Cannot .*refused the credentials/m,
    );
    expect(result.stdout + result.stderr).not.toContain("not-the-key-42");
  });

  it("refuses to start when nothing listens at the endpoint", async () => {
    const port = await unusedPort();
    const result = await runServe(`unreachable/${randomUUID()}`, {
      "--s3-endpoint": `http://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(ERROR_CODES.OBJECT_STORE_UNAVAILABLE.exitCode);
    expect(result.stderr).toMatch(
      new RegExp(
        `^gsnap: OBJECT_STORE_UNAVAILABLE: Cannot .*127\\.0\\.0\\.1:${port}.*did not answer`,
        "m",
      ),
    );
  });

  it("refuses a second data dir on a bucket and prefix that another store holds", async () => {
    const prefix = `shared/${randomUUID()}`;
    const first = await startS3(prefix);
    await cliOk(first, "volume", "create", "VOL001", "--cylinders", "1");
    const result = await runServe(prefix);
    expect(result.code).toBe(ERROR_CODES.OBJECT_STORE_IN_USE.exitCode);
    expect(result.stderr).toMatch(/^gsnap: OBJECT_STORE_IN_USE: Cannot keep chunks in s3:\/\//m);
    // The first store goes on as before.
    await cliOk(first, "volume", "show", "VOL001");
  });
});

/**
 * Establishes a path from `source`'s subsystem `ssid` to `target` ("SERIAL.SSID") over `link`,
 * then runs the GSC `request` on `source` to its end; answers the job as `gsc --json` prints it.
 */
async function gscOverPath(
  source: ServeProcess,
  options: { ssid: string; target: string; link: string; request: string },
  // biome-ignore lint/suspicious/noExplicitAny: the job as the CLI prints it.
): Promise<any> {
  const { request, ...route } = options;
  await establishPath(source, route);
  return JSON.parse(await cliOk(source, "gsc", request, "--wait", "--json"));
}

/** Runs `gsnap serve` on a fresh data dir to its exit (these runs are meant to fail at start). */
function runServe(prefix: string, overrides: Record<string, string> = {}) {
  return runGsnap([
    "serve",
    "--data",
    tempDir("s3-refused"),
    "--api",
    "127.0.0.1:0",
    "--nbd",
    "127.0.0.1:0",
    "--token",
    "test-token-0123456789",
    ...s3Args(prefix, overrides),
  ]);
}

/** A loopback port nothing listens on (bound, then let go). */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
