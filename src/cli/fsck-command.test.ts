import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { openChunkBackend } from "../daemon/chunk-backend.js";
import { resolveChunks } from "../daemon/chunks-config.js";
import { ERROR_CODES } from "../errors/codes.js";
import { Store } from "../store/store.js";
import { s3Available, s3SkipReason, testS3 } from "../testing/s3-test-store.js";

const CLI = path.resolve("dist/src/cli/main.js");
const run = promisify(execFile);

async function gsnap(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function storeWithData(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-fsck-"));
  const store = await Store.open(dir, { collectorIntervalMs: false });
  await store.createVolume({ volser: "VOL001", cylinders: 2 });
  await store.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(3 * 57_344, 0x42) });
  await store.close();
  return dir;
}

describe.skipIf(!fs.existsSync(CLI))("gsnap fsck", () => {
  it("reports a consistent store and exits 0", async () => {
    const dir = await storeWithData();
    const result = await gsnap("fsck", dir, "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, chunks: 3, volumes: 1 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("finds a flipped byte in a segment and exits with CHECK_FAILED", async () => {
    const dir = await storeWithData();
    const segment = path.join(dir, "segments", "00000001.seg");
    const bytes = fs.readFileSync(segment);
    bytes[1_000] ^= 0xff;
    fs.writeFileSync(segment, bytes);
    const result = await gsnap("fsck", dir);
    expect(result.code).toBe(ERROR_CODES.CHECK_FAILED.exitCode);
    expect(result.stdout).toContain("fails its checksum");
    expect(result.stderr).toContain("CHECK_FAILED");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("exits with the usage code on an unknown option", async () => {
    const result = await gsnap("fsck", "--bogus");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option");
  });
});

describe.skipIf(!fs.existsSync(CLI) || !s3Available())(
  `gsnap fsck of a store on S3 ${s3SkipReason()}`,
  () => {
    it("checks it where its chunks are, and refuses with CHUNKS_ELSEWHERE without --chunks", async () => {
      const s3 = testS3();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-fsck-s3-"));
      const url = `s3://${s3.bucket}/fsck/${path.basename(dir)}`;
      const settings = {
        chunks: url,
        s3Endpoint: s3.endpoint,
        s3AccessKey: s3.accessKeyId,
        s3SecretKey: s3.secretAccessKey,
        s3SegmentMib: 1,
      };
      const backend = openChunkBackend(resolveChunks(settings), {
        dataDir: dir,
        logger: pino({ level: "silent" }),
      });
      const store = await Store.open(dir, { ...backend.storeOptions, collectorIntervalMs: false });
      await store.createVolume({ volser: "VOL001", cylinders: 2 });
      await store.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(30 * 57_344, 0x42) });
      await store.close();
      backend.close();
      const flags = [
        "--chunks",
        url,
        "--s3-endpoint",
        s3.endpoint,
        "--s3-access-key",
        s3.accessKeyId,
        "--s3-secret-key",
        s3.secretAccessKey,
      ];
      const checked = await gsnap("fsck", dir, "--json", ...flags);
      expect(checked.stderr).toBe("");
      expect(checked.code).toBe(0);
      expect(JSON.parse(checked.stdout)).toMatchObject({ ok: true, chunks: 30, volumes: 1 });
      const local = await gsnap("fsck", dir);
      expect(local.code).toBe(ERROR_CODES.CHUNKS_ELSEWHERE.exitCode);
      expect(local.stderr).toContain(`it keeps them in ${url}/`);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  },
);
