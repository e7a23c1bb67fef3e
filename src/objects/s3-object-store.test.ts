// The S3 object store against a real radosgw (the Ceph cluster of test/setup/ceph.ts): what it
// stores and lists, and each way it fails, some of them provoked through a fault proxy that
// throttles, cuts and holds requests on their way to radosgw.

import { randomBytes, randomUUID } from "node:crypto";
import net, { type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GsnapError } from "../errors/gsnap-error.js";
import { codeOfAsync } from "../testing/error-code.js";
import { type S3FaultProxy, startS3FaultProxy } from "../testing/s3-fault-proxy.js";
import { s3Available, s3SkipReason, testObjectStore, testS3 } from "../testing/s3-test-store.js";
import { ensureBucket, S3ObjectStore } from "./s3-object-store.js";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function store(overrides: Parameters<typeof testObjectStore>[0] = {}): S3ObjectStore {
  const created = testObjectStore(overrides);
  cleanups.push(() => created.close());
  return created;
}

async function proxy(): Promise<S3FaultProxy> {
  const started = await startS3FaultProxy(testS3().endpoint);
  cleanups.push(() => started.close());
  return started;
}

/** The error an action rejects with; it must be a GsnapError. */
async function errorOf(action: () => Promise<unknown>): Promise<GsnapError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof GsnapError) return error;
    throw error;
  }
  throw new Error("Cannot check the error: the action did not fail");
}

/** A loopback port where nothing listens (it did a moment ago). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const suite = s3Available()
  ? "S3ObjectStore on radosgw"
  : `S3ObjectStore on radosgw (skipped: ${s3SkipReason()})`;

describe.skipIf(!s3Available())(suite, () => {
  it("gives back what was put, whole and by byte range", async () => {
    const objects = store();
    const body = randomBytes(300_000);
    await objects.put("segments/00000001.seg", body);
    expect((await objects.get("segments/00000001.seg"))?.equals(body)).toBe(true);
    const part = await objects.get("segments/00000001.seg", {
      offsetBytes: 123_457,
      lengthBytes: 65_536,
    });
    expect(part?.equals(body.subarray(123_457, 123_457 + 65_536))).toBe(true);
    const last = await objects.get("segments/00000001.seg", {
      offsetBytes: 299_999,
      lengthBytes: 1,
    });
    expect(last?.[0]).toBe(body[299_999]);
    expect(objects.stats).toMatchObject({
      puts: 1,
      putBytes: 300_000,
      gets: 3,
      getBytes: 300_000 + 65_536 + 1,
      retries: 0,
      failures: 0,
    });
  });

  it("answers undefined for a missing object, with or without a range", async () => {
    const objects = store();
    expect(await objects.get("segments/missing.seg")).toBeUndefined();
    expect(
      await objects.get("segments/missing.seg", { offsetBytes: 0, lengthBytes: 10 }),
    ).toBeUndefined();
    expect(objects.stats.failures).toBe(0);
  });

  it("refuses a range that runs past the end of the object", async () => {
    const objects = store();
    await objects.put("short", Buffer.from("0123456789"));
    const error = await errorOf(() => objects.get("short", { offsetBytes: 8, lengthBytes: 4 }));
    expect(error.code).toBe("OBJECT_STORE_UNAVAILABLE");
    expect(error.message).toBe(
      `Cannot get short [8-11] from ${objects.description}: the object store answered 2 bytes instead of 4 (the object is shorter than the range)`,
    );
    expect(objects.stats.failures).toBe(1);
  });

  it("lists every object below a key prefix, page after page, without the store's prefix", async () => {
    const objects = store({ listPageKeys: 2 });
    const keys = ["segments/1", "segments/2", "segments/3", "segments/4", "segments/5"];
    for (const [index, key] of keys.entries()) await objects.put(key, Buffer.alloc(index + 1));
    await objects.put("meta/owner", Buffer.from("x"));
    const listed = await objects.list("segments/");
    expect(listed).toEqual(keys.map((key, index) => ({ key, sizeBytes: index + 1 })));
    // Five keys at two a page.
    expect(objects.stats.lists).toBe(3);
    expect((await objects.list("")).map((info) => info.key)).toEqual(["meta/owner", ...keys]);
    expect(await objects.list("nothing/")).toEqual([]);
    // Another store in the same bucket sees none of it.
    expect(await store().list("")).toEqual([]);
  });

  it("deletes an object, and deleting a missing one is not an error", async () => {
    const objects = store();
    await objects.put("a", Buffer.from("a"));
    await objects.delete("a");
    expect(await objects.get("a")).toBeUndefined();
    await objects.delete("a");
    await objects.delete("never-there");
    expect(objects.stats).toMatchObject({ deletes: 3, failures: 0 });
  });

  it("makes a bucket once, and making it again is fine", async () => {
    const s3 = testS3();
    const options = {
      bucket: `gsnap-ensure-${Date.now()}`,
      prefix: "",
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    };
    await ensureBucket(options);
    await ensureBucket(options);
    const objects = store({ bucket: options.bucket });
    await objects.put("k", Buffer.from("v"));
    expect((await objects.get("k"))?.toString()).toBe("v");
  });

  it("puts an object only if none is there, and of racing puts exactly one wins", async () => {
    const objects = store();
    expect(await objects.putIfAbsent("claim", Buffer.from("first"))).toBe(true);
    expect(await objects.putIfAbsent("claim", Buffer.from("second"))).toBe(false);
    expect((await objects.get("claim"))?.toString()).toBe("first");
    const bodies = ["a", "b", "c", "d", "e"];
    const won = await Promise.all(
      bodies.map((body) => objects.putIfAbsent("race", Buffer.from(body))),
    );
    expect(won.filter(Boolean)).toHaveLength(1);
    expect((await objects.get("race"))?.toString()).toBe(bodies[won.indexOf(true)]);
  });

  it("refuses a wrong secret with OBJECT_STORE_REFUSED, without retrying", async () => {
    const s3 = testS3();
    const objects = store({
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: "0".repeat(40) },
    });
    const error = await errorOf(() => objects.put("k", Buffer.from("v")));
    expect(error.code).toBe("OBJECT_STORE_REFUSED");
    expect(error.message).toMatch(/^Cannot put k to s3:\/\/gsnap-test\/tests\/.* at http:/);
    expect(error.message).toContain("refused the credentials (403 SignatureDoesNotMatch");
    expect(objects.stats).toMatchObject({ puts: 0, retries: 0, failures: 1 });
  });

  it("refuses with OBJECT_STORE_REFUSED when no keys are given and none are in the environment", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      const error = await errorOf(() =>
        store({ credentials: undefined }).put("k", Buffer.from("v")),
      );
      expect(error.code).toBe("OBJECT_STORE_REFUSED");
      expect(error.message).toContain("no credentials were given");
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

  it("takes the keys from the environment when none are given", async () => {
    const objects = store({ credentials: undefined });
    await objects.put("from-env", Buffer.from("v"));
    expect((await objects.get("from-env"))?.toString()).toBe("v");
  });

  it("refuses a missing bucket with OBJECT_STORE_REFUSED", async () => {
    const objects = store({ bucket: "gsnap-no-such-bucket" });
    const error = await errorOf(() => objects.put("k", Buffer.from("v")));
    expect(error.code).toBe("OBJECT_STORE_REFUSED");
    expect(error.message).toContain(
      'bucket "gsnap-no-such-bucket" does not exist (404 NoSuchBucket',
    );
    expect(await codeOfAsync(() => objects.get("k"))).toBe("OBJECT_STORE_REFUSED");
    expect(await codeOfAsync(() => objects.list(""))).toBe("OBJECT_STORE_REFUSED");
  });

  it("gives up on an endpoint where nothing listens after maxAttempts", async () => {
    const endpoint = `http://127.0.0.1:${await deadPort()}`;
    const objects = store({ endpoint, maxAttempts: 2 });
    const error = await errorOf(() => objects.put("segments/00000012.seg", Buffer.from("v")));
    expect(error.code).toBe("OBJECT_STORE_UNAVAILABLE");
    expect(error.message).toMatch(
      new RegExp(
        `^Cannot put segments/00000012.seg to s3://gsnap-test/tests/[^ ]+ at ${endpoint}: ` +
          "the object store did not answer \\(connect ECONNREFUSED [^)]+\\) after 2 attempts$",
      ),
    );
    expect(objects.stats).toMatchObject({ puts: 0, retries: 1, failures: 1 });
  });

  it("retries SlowDown answers and the put lands", async () => {
    const faults = await proxy();
    const prefix = `tests/${randomUUID()}/`;
    const objects = store({ endpoint: faults.endpoint, prefix });
    faults.failNext(2, { status: 503, code: "SlowDown" });
    await objects.put("segments/1", Buffer.from("landed"));
    expect(faults.faultsServed).toBe(2);
    expect(faults.requestsSeen).toBe(3);
    expect(objects.stats.retries).toBeGreaterThanOrEqual(2);
    expect(objects.stats).toMatchObject({ puts: 1, failures: 0 });
    // Read it back past the proxy.
    const direct = store({
      prefix: objects.description.split(" ")[0].replace(/^s3:\/\/[^/]+\//, ""),
    });
    expect((await direct.get("segments/1"))?.toString()).toBe("landed");
  });

  it("gives up with OBJECT_STORE_UNAVAILABLE when the faults outlast the attempts", async () => {
    const faults = await proxy();
    const objects = store({ endpoint: faults.endpoint, maxAttempts: 3 });
    faults.failNext(10, { status: 500, code: "InternalError" });
    const error = await errorOf(() => objects.put("segments/1", Buffer.from("lost")));
    expect(error.code).toBe("OBJECT_STORE_UNAVAILABLE");
    expect(error.message).toMatch(/kept failing \(500 InternalError[^)]*\) after 3 attempts$/);
    expect(faults.faultsServed).toBe(3);
    expect(objects.stats).toMatchObject({ puts: 0, retries: 2, failures: 1 });
    faults.failNext(0);
    expect(await objects.get("segments/1")).toBeUndefined();
  });

  it("times out a request held longer than requestTimeoutMs", async () => {
    const faults = await proxy();
    const objects = store({ endpoint: faults.endpoint, maxAttempts: 2, requestTimeoutMs: 300 });
    await objects.put("k", Buffer.from("v"));
    faults.delayMs(2_000);
    const startedMs = Date.now();
    const error = await errorOf(() => objects.get("k"));
    expect(error.code).toBe("OBJECT_STORE_UNAVAILABLE");
    expect(error.message).toMatch(
      /: the object store did not answer \(no answer within 300 ms\) after 2 attempts$/,
    );
    // Two attempts of 300 ms and one backoff, well before the proxy would have answered.
    expect(Date.now() - startedMs).toBeLessThan(1_900);
    faults.delayMs(0);
    expect((await objects.get("k"))?.toString()).toBe("v");
  });

  it("fails while the endpoint is down and works again once it is back", async () => {
    const faults = await proxy();
    const objects = store({ endpoint: faults.endpoint, maxAttempts: 2 });
    await objects.put("k", Buffer.from("v"));
    faults.down(true);
    expect(await codeOfAsync(() => objects.get("k"))).toBe("OBJECT_STORE_UNAVAILABLE");
    faults.down(false);
    expect((await objects.get("k"))?.toString()).toBe("v");
  });

  it("hands the cluster's address to the test workers' environment too", () => {
    expect(process.env.S3_ENDPOINT).toBe(testS3().endpoint);
    expect(process.env.AWS_ACCESS_KEY_ID).toBe(testS3().accessKeyId);
  });
});

describe("S3ObjectStore answers it cannot use", () => {
  /** A store whose client answers every command with `answer`, without a network. */
  function answering(answer: unknown): S3ObjectStore {
    const objects = new S3ObjectStore({
      bucket: "b",
      prefix: "p/",
      endpoint: "http://127.0.0.1:9",
      credentials: { accessKeyId: "a", secretAccessKey: "s" },
    });
    cleanups.push(() => objects.close());
    // biome-ignore lint/suspicious/noExplicitAny: the test stands in for the SDK's client.
    (objects as any).client.send = async () => answer;
    return objects;
  }

  it("refuses a listing with a key outside the prefix with OBJECT_STORE_UNAVAILABLE", async () => {
    const objects = answering({ $metadata: {}, Contents: [{ Key: "elsewhere/x", Size: 1 }] });
    const error = await errorOf(() => objects.list("segments/"));
    expect(error.code).toBe("OBJECT_STORE_UNAVAILABLE");
    expect(error.message).toBe(
      `Cannot list segments/* in ${objects.description}: the object store listed key "elsewhere/x", which is not below "p/segments/"`,
    );
  });

  it("refuses a listing entry without a key with OBJECT_STORE_UNAVAILABLE", async () => {
    const objects = answering({ $metadata: {}, Contents: [{ Size: 1 }] });
    expect(await codeOfAsync(() => objects.list(""))).toBe("OBJECT_STORE_UNAVAILABLE");
  });

  it("refuses an object answered without a body with OBJECT_STORE_UNAVAILABLE", async () => {
    const objects = answering({ $metadata: {} });
    expect(await codeOfAsync(() => objects.get("segments/00000001.seg"))).toBe(
      "OBJECT_STORE_UNAVAILABLE",
    );
  });
});
