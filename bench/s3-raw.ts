// The S3 SDK on its own, as the reference of the object-store benchmark (bench/s3.ts): the same
// data PUT as 32 MiB objects (the segment size), then GET back whole and in 1 MiB ranges (the
// device's blocks), with the client set up as the device's is.

import { createHash, randomUUID } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { CephCluster } from "../src/testing/ceph-cluster.js";
import { inFlight } from "./in-flight.js";
import { secondsSince } from "./link-peers.js";
import type { RawRun } from "./s3-report.js";

/** What the raw runs need of the benchmark: where to send, what to send, how to check it. */
export interface RawTarget {
  readonly cluster: CephCluster;
  readonly data: Buffer;
  check(read: Buffer, offsetBytes: number): void;
}

/** The SDK on its own, set up as the device's S3 client is (path-style, no flexible checksums). */
function rawClient(cluster: CephCluster): S3Client {
  return new S3Client({
    endpoint: cluster.endpoint,
    region: cluster.region,
    credentials: cluster.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** PUTs the data as 32 MiB objects at each concurrency, then GETs the last set back. */
export async function rawRun(
  bench: RawTarget,
  options: {
    bucket: string;
    objectBytes: number;
    blockBytes: number;
    /** PUTs and whole GETs at once; the first is the device's, and also gets a Content-MD5 run. */
    concurrencies: readonly number[];
    rangedInFlight: number;
  },
): Promise<RawRun> {
  const { bucket, objectBytes, blockBytes, concurrencies } = options;
  const totalBytes = bench.data.length;
  const client = rawClient(bench.cluster);
  const objects = Math.ceil(totalBytes / objectBytes);
  const sizeOf = (index: number) => Math.min(objectBytes, totalBytes - index * objectBytes);
  const put: Record<number, number> = {};
  let prefix = "";
  try {
    for (const concurrency of concurrencies) {
      prefix = `raw/${randomUUID()}/`;
      const start = process.hrtime.bigint();
      await inFlight(objects, concurrency, async (index) => {
        const offset = index * objectBytes;
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${prefix}${index}`,
            Body: bench.data.subarray(offset, offset + sizeOf(index)),
            ContentLength: sizeOf(index),
          }),
        );
      });
      put[concurrency] = secondsSince(start);
    }
    // Once more as the device puts them, with Content-MD5: what hashing on the loop costs.
    const start = process.hrtime.bigint();
    await inFlight(objects, concurrencies[0], async (index) => {
      const offset = index * objectBytes;
      const body = bench.data.subarray(offset, offset + sizeOf(index));
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `raw-md5/${index}`,
          Body: body,
          ContentLength: body.length,
          ContentMD5: createHash("md5").update(body).digest("base64"),
        }),
      );
    });
    const putMd5 = secondsSince(start);
    const get = async (index: number, range?: { offset: number; length: number }) => {
      const response = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: `${prefix}${index}`,
          Range:
            range === undefined
              ? undefined
              : `bytes=${range.offset}-${range.offset + range.length - 1}`,
        }),
      );
      const body = await response.Body?.transformToByteArray();
      const offset = index * objectBytes + (range?.offset ?? 0);
      bench.check(Buffer.from(body ?? []), offset);
    };
    const getWhole: Record<number, number> = {};
    for (const concurrency of concurrencies) {
      const start = process.hrtime.bigint();
      await inFlight(objects, concurrency, (index) => get(index));
      getWhole[concurrency] = secondsSince(start);
    }
    const blocksPerObject = objectBytes / blockBytes;
    const blocks = Math.ceil(totalBytes / blockBytes);
    const rangedStart = process.hrtime.bigint();
    await inFlight(blocks, options.rangedInFlight, async (block) => {
      const index = Math.floor(block / blocksPerObject);
      const offset = (block % blocksPerObject) * blockBytes;
      const length = Math.min(blockBytes, sizeOf(index) - offset);
      await get(index, { offset, length });
    });
    return { put, putMd5, getWhole, getRanged: secondsSince(rangedStart) };
  } finally {
    client.destroy();
  }
}
