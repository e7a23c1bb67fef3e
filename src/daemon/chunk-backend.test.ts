import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Store } from "../store/store.js";
import { codeOfAsync } from "../testing/error-code.js";
import { MemoryDevice } from "../testing/memory-device.js";
import { s3Available, s3SkipReason, testS3 } from "../testing/s3-test-store.js";
import { openChunkBackend } from "./chunk-backend.js";
import type { S3ChunksConfig } from "./chunks-config.js";

const TRACK = 57_344;
const MIB = 1024 * 1024;
const logger = pino({ level: "silent" });
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-backend-"));
  dirs.push(dir);
  return dir;
}

/** An S3 config; nothing listens at its default endpoint. */
function s3Config(overrides: Partial<S3ChunksConfig> = {}): S3ChunksConfig {
  return {
    kind: "s3",
    url: "s3://bucket/p/",
    bucket: "bucket",
    prefix: "p/",
    endpoint: "http://127.0.0.1:1",
    credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
    cacheBytes: MIB,
    segmentBytes: MIB,
    ...overrides,
  };
}

/** Writes one track through a store on `backend`'s device, then closes it. */
async function writeOneTrack(
  dir: string,
  backend = openChunkBackend({ kind: "local" }, { dataDir: dir, logger }),
) {
  const store = await Store.open(dir, { ...backend.storeOptions, collectorIntervalMs: false });
  await store.createVolume({ volser: "VOL001", cylinders: 1 });
  await store.write("VOL001", { offsetBytes: 0, data: Buffer.alloc(TRACK, 0x5a) });
  await store.flush();
  await store.close();
  backend.close();
}

describe("chunk backend", () => {
  it("keeps local chunks in DATA/segments and shows no object store", async () => {
    const dir = dataDir();
    const backend = openChunkBackend({ kind: "local" }, { dataDir: dir, logger });
    expect(backend.kind).toBe("local");
    expect(backend.description).toBe(`local segment files (${path.join(dir, "segments")})`);
    expect(backend.stats()).toBeUndefined();
    await writeOneTrack(dir, backend);
    expect(fs.readdirSync(path.join(dir, "segments")).some((name) => name.endsWith(".seg"))).toBe(
      true,
    );
  });

  it("refuses to open a data dir with local chunks on S3, before it calls the object store", async () => {
    const dir = dataDir();
    await writeOneTrack(dir);
    const backend = openChunkBackend(s3Config(), { dataDir: dir, logger });
    const opened = Store.open(dir, { ...backend.storeOptions, collectorIntervalMs: false });
    await expect(opened).rejects.toThrow(
      expect.objectContaining({
        code: "CHUNKS_ELSEWHERE",
        message: expect.stringMatching(
          /keeps them in local segment files \(start it with --chunks local\)/,
        ),
      }),
    );
    backend.close();
    // The refusal let go of the store: it opens with its own chunks as before.
    const store = await Store.open(dir, { collectorIntervalMs: false });
    const track = await store.read("VOL001", { offsetBytes: 0, lengthBytes: TRACK });
    expect(track.every((byte) => byte === 0x5a)).toBe(true);
    await store.close();
  });

  it("refuses to open a data dir whose chunks are in an object store with local chunks, or with another prefix", async () => {
    const dir = dataDir();
    const memory = (committedSizes: Map<number, number>) => new MemoryDevice({ committedSizes });
    const first = await Store.open(dir, { device: memory, chunkHome: "s3://bucket/p/" });
    await first.createVolume({ volser: "VOL001", cylinders: 1 });
    await first.close();
    const backend = openChunkBackend({ kind: "local" }, { dataDir: dir, logger });
    expect(
      await codeOfAsync(() =>
        Store.open(dir, { ...backend.storeOptions, collectorIntervalMs: false }),
      ),
    ).toBe("CHUNKS_ELSEWHERE");
    const typo = openChunkBackend(s3Config({ url: "s3://bucket/typo/", prefix: "typo/" }), {
      dataDir: dir,
      logger,
    });
    expect(
      await codeOfAsync(() =>
        Store.open(dir, { ...typo.storeOptions, collectorIntervalMs: false }),
      ),
    ).toBe("CHUNKS_ELSEWHERE");
    typo.close();
  });

  it("names the bucket, prefix, endpoint and staging dir, never the keys", () => {
    const dir = dataDir();
    const backend = openChunkBackend(s3Config(), { dataDir: dir, logger });
    expect(backend.description).toBe(
      `s3://bucket/p/ at http://127.0.0.1:1 (staging ${path.join(dir, "staging")})`,
    );
    expect(JSON.stringify({ ...backend, description: backend.description })).not.toMatch(/"SK"/);
    backend.close();
  });

  it.skipIf(!s3Available())(
    `keeps chunks in the S3 bucket and reports the device's stats${s3Available() ? "" : ` (skipped: ${s3SkipReason()})`}`,
    async () => {
      const s3 = testS3();
      const dir = dataDir();
      const config = s3Config({
        url: `s3://${s3.bucket}/backend-test/${path.basename(dir)}/`,
        bucket: s3.bucket,
        prefix: `backend-test/${path.basename(dir)}/`,
        endpoint: s3.endpoint,
        region: s3.region,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
      const backend = openChunkBackend(config, { dataDir: dir, logger });
      expect(backend.stats()).toBeUndefined();
      await writeOneTrack(dir, backend);
      const stats = backend.stats();
      expect(stats?.puts).toBeGreaterThanOrEqual(1);
      expect(fs.existsSync(path.join(dir, "staging", "store-id"))).toBe(true);
    },
  );
});
