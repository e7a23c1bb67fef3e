// A store on real Ceph through a proxy that turns the object store bad: throttling and 5xx are
// retried, an outage keeps writes in staging and fails reads clearly, and none of it changes the
// mapping table.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Store } from "../store/store.js";
import { codeOfAsync as codeOf } from "../testing/error-code.js";
import { testObjectDevice } from "../testing/object-device.js";
import { type S3FaultProxy, startS3FaultProxy } from "../testing/s3-fault-proxy.js";
import { s3Available, s3SkipReason, testObjectStore, testS3 } from "../testing/s3-test-store.js";
import type { ObjectSegmentDevice } from "./object-segment-device.js";
import type { S3ObjectStore } from "./s3-object-store.js";

const TRACK = 57_344;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) buffer[i] = (i * 7 + seed * 11 + 5) & 0xff;
  return buffer;
}

interface Setup {
  readonly store: Store;
  readonly device: ObjectSegmentDevice;
  readonly proxy: S3FaultProxy;
  readonly objects: S3ObjectStore;
  readonly logged: string[];
}

/** A store whose object store is reached through a fault proxy, with quick retries. */
async function setUp(): Promise<Setup> {
  const proxy = await startS3FaultProxy(testS3().endpoint);
  cleanups.push(() => proxy.close());
  const objects = testObjectStore({
    endpoint: proxy.endpoint,
    maxAttempts: 4,
    requestTimeoutMs: 2_000,
  });
  cleanups.push(() => objects.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-faults-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const logged: string[] = [];
  const opened = testObjectDevice(() => objects, {
    segmentTracks: 4,
    trackBytes: TRACK,
    blockBytes: 65_536,
    log: (_level, message) => logged.push(message),
  });
  const store = await Store.open(dir, { collectorIntervalMs: false, device: opened.device });
  cleanups.push(() => store.close());
  await store.createVolume({ volser: "VOL001", cylinders: 1 });
  return { store, device: opened.deviceOf(dir), proxy, objects, logged };
}

describe.skipIf(!s3Available())(`object store faults ${s3SkipReason()}`, () => {
  it("retries throttled and failing requests with backoff and lands the upload", async () => {
    const { store, device, proxy, objects } = await setUp();
    proxy.failNext(2, { status: 503, code: "SlowDown" });
    const data = pattern(4 * TRACK, 1);
    await store.write("VOL001", { offsetBytes: 0, data });
    await device.drained();
    expect(proxy.faultsServed).toBe(2);
    expect(objects.stats.retries).toBeGreaterThanOrEqual(2);
    proxy.failNext(1, { status: 500, code: "InternalError" });
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
    expect(proxy.faultsServed).toBe(3);
    expect((await store.check()).problems).toEqual([]);
  });

  it("keeps writing into staging through an outage and uploads once the object store is back", async () => {
    const { store, device, proxy, logged } = await setUp();
    proxy.down(true);
    const data = pattern(8 * TRACK, 2);
    await store.write("VOL001", { offsetBytes: 0, data });
    await store.flush();
    const drained = device.drained();
    // Sealed segments fail their upload and stay staged while it is down.
    while (device.stats().uploadFailures === 0) await new Promise((r) => setTimeout(r, 20));
    expect(device.stats().stagedSegments).toBeGreaterThan(0);
    expect(logged.some((line) => line.includes("Cannot upload segment"))).toBe(true);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
    proxy.down(false);
    await drained;
    expect(device.stats().stagedSegments).toBe(0);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(data),
    ).toBe(true);
  }, 60_000);

  it("fails reads of uploaded tracks with OBJECT_STORE_UNAVAILABLE while it is down, and takes partial writes into the journal, merging them once it is back", async () => {
    const { store, device, proxy } = await setUp();
    const data = pattern(4 * TRACK, 3);
    await store.write("VOL001", { offsetBytes: 0, data });
    await device.drained();
    proxy.down(true);
    expect(await codeOf(() => store.read("VOL001", { offsetBytes: TRACK, lengthBytes: 512 }))).toBe(
      "OBJECT_STORE_UNAVAILABLE",
    );
    await store.write("VOL001", { offsetBytes: TRACK + 100, data: Buffer.alloc(512, 0xee) });
    proxy.down(false);
    const expected = Buffer.from(data);
    expected.fill(0xee, TRACK + 100, TRACK + 612);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(expected),
    ).toBe(true);
    expect((await store.check()).problems).toEqual([]);
    expect(
      (await store.read("VOL001", { offsetBytes: 0, lengthBytes: data.length })).equals(expected),
    ).toBe(true);
  }, 60_000);
});
