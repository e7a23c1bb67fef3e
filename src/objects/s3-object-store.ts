// The object store over the S3 API: Ceph's radosgw in the tests, any S3-compatible store in use.
// The SDK does the signing and the retries (its standard strategy: exponential backoff with
// jitter on throttling, 5xx, timeouts and dropped connections); this file adds the key prefix,
// the MD5 on puts, the length check on ranged gets, the stats, and turns every failure into one
// of two error codes: OBJECT_STORE_REFUSED (retrying cannot help) or OBJECT_STORE_UNAVAILABLE.

import assert from "node:assert/strict";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { GsnapError } from "../errors/gsnap-error.js";
import { md5Base64 } from "./md5-thread.js";
import {
  emptyObjectStoreStats,
  type ObjectInfo,
  type ObjectRange,
  type ObjectStore,
  type ObjectStoreStats,
} from "./object-store.js";

export interface S3ObjectStoreOptions {
  readonly bucket: string;
  /** "" or a key prefix ending in "/". */
  readonly prefix: string;
  /** e.g. "http://127.0.0.1:7480"; without it the SDK's own sources (AWS_ENDPOINT_URL, AWS). */
  readonly endpoint?: string;
  readonly region?: string;
  /** Without them the SDK's own sources (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ...). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Attempts per request, the first included. */
  readonly maxAttempts?: number;
  /** Longest one attempt may take, from sending the request to the end of the answer. */
  readonly requestTimeoutMs?: number;
  /** Keys per ListObjectsV2 page (S3's maximum is 1000); smaller only so tests can page. */
  readonly listPageKeys?: number;
}

/**
 * Five attempts with the SDK's backoff (up to 0.1, 0.2, 0.4, 0.8 s apart, jittered) ride out a
 * radosgw restart or a burst of SlowDown without holding a failing write for long.
 */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** 30 s: a whole segment at a few MB/s, over a link shared with other traffic. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Connecting takes milliseconds on a LAN; 5 s means the host is gone, so try again. */
const CONNECT_TIMEOUT_MS = 5_000;
/** The region S3-compatible stores usually accept; radosgw does not check it. */
const DEFAULT_REGION = "us-east-1";
/** S3's own maximum page of ListObjectsV2. */
const LIST_PAGE_KEYS_MAX = 1000;

/** S3 error codes that mean "not with these credentials, not in this bucket": no retry helps. */
const REFUSED_CODES = new Set([
  "NoSuchBucket",
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
]);

/** What the SDK attaches to its errors and answers. */
interface SdkMetadata {
  readonly httpStatusCode?: number;
  readonly attempts?: number;
}

function metadataOf(error: unknown): SdkMetadata {
  const metadata = (error as { $metadata?: SdkMetadata } | undefined)?.$metadata;
  return metadata ?? {};
}

function codeOf(error: unknown): string {
  const named = error as { Code?: unknown; code?: unknown; name?: unknown };
  for (const value of [named.Code, named.name, named.code]) {
    if (typeof value === "string" && value !== "" && value !== "Error") return value;
  }
  return "Error";
}

export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  readonly stats: ObjectStoreStats = emptyObjectStoreStats();
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly maxAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly listPageKeys: number;

  constructor(options: S3ObjectStoreOptions) {
    // The SDK warns on Node 20 that its releases from 2027 on will need Node 22; package.json
    // pins a release that supports Node 20, so the warning would only be noise in every log.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    assert.ok(options.prefix === "" || options.prefix.endsWith("/"), "prefix ends with /");
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.listPageKeys = options.listPageKeys ?? LIST_PAGE_KEYS_MAX;
    assert.ok(this.maxAttempts >= 1, "maxAttempts is at least 1");
    assert.ok(this.requestTimeoutMs > 0, "requestTimeoutMs is positive");
    assert.ok(this.listPageKeys >= 1 && this.listPageKeys <= LIST_PAGE_KEYS_MAX);
    const endpointText =
      options.endpoint ??
      process.env.AWS_ENDPOINT_URL_S3 ??
      process.env.AWS_ENDPOINT_URL ??
      "the default S3 endpoint";
    this.description = `s3://${this.bucket}/${this.prefix} at ${endpointText}`;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region:
        options.region ??
        process.env.AWS_REGION ??
        process.env.AWS_DEFAULT_REGION ??
        DEFAULT_REGION,
      credentials: options.credentials ?? credentialsFromEnv,
      // radosgw and most S3-compatibles have no DNS for virtual-host buckets.
      forcePathStyle: true,
      retryMode: "standard",
      maxAttempts: this.maxAttempts,
      // Older S3-compatibles (Debian 12's Ceph 16) refuse the newer flexible-checksum headers;
      // puts carry Content-MD5 instead.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // The SDK builds its NodeHttpHandler from these. Without throwOnRequestTimeout a request
      // past its timeout only logs a warning and hangs on.
      requestHandler: {
        connectionTimeout: Math.min(CONNECT_TIMEOUT_MS, this.requestTimeoutMs),
        requestTimeout: this.requestTimeoutMs,
        throwOnRequestTimeout: true,
      },
    });
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.putObject(key, body, false);
  }

  async putIfAbsent(key: string, body: Buffer): Promise<boolean> {
    return this.putObject(key, body, true);
  }

  /** A PUT; with `ifAbsent`, conditional on no object being there (If-None-Match: *). */
  private async putObject(key: string, body: Buffer, ifAbsent: boolean): Promise<boolean> {
    const contentMd5 = await md5Base64(body);
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.prefix + key,
      Body: body,
      ContentLength: body.length,
      ContentMD5: contentMd5,
      ...(ifAbsent ? { IfNoneMatch: "*" } : {}),
    });
    const output = await this.send(command, `put ${key} to`, {
      preconditionFailedIsUndefined: ifAbsent,
    });
    if (output === undefined) return false;
    this.stats.puts += 1;
    this.stats.putBytes += body.length;
    return true;
  }

  async get(key: string, range?: ObjectRange): Promise<Buffer | undefined> {
    if (range !== undefined) {
      assert.ok(Number.isSafeInteger(range.offsetBytes) && range.offsetBytes >= 0);
      assert.ok(Number.isSafeInteger(range.lengthBytes) && range.lengthBytes > 0);
    }
    const what = `get ${key}${range === undefined ? "" : ` [${rangeText(range)}]`} from`;
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.prefix + key,
      Range: range === undefined ? undefined : `bytes=${rangeText(range)}`,
    });
    // The SDK retries until the answer's headers; a body cut off on the way is retried here,
    // within the same number of attempts.
    for (let attempt = 1; ; attempt += 1) {
      const response = await this.send<GetObjectCommandOutput>(command, what, {
        missingIsUndefined: true,
      });
      if (response === undefined) return undefined;
      if (response.Body === undefined) {
        this.stats.failures += 1;
        throw this.unavailable(what, "the object store answered without a body");
      }
      let bytes: Uint8Array;
      try {
        bytes = await response.Body.transformToByteArray();
      } catch (error) {
        if (attempt < this.maxAttempts) {
          this.stats.retries += 1;
          continue;
        }
        this.stats.failures += 1;
        const why = `the answer broke off (${describeCause(error)}) after ${attempt} attempts`;
        throw this.unavailable(what, why, error);
      }
      const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (range !== undefined && body.length !== range.lengthBytes) {
        this.stats.failures += 1;
        throw this.unavailable(
          what,
          `the object store answered ${body.length} bytes instead of ${range.lengthBytes} (the object is shorter than the range)`,
        );
      }
      this.stats.gets += 1;
      this.stats.getBytes += body.length;
      return body;
    }
  }

  async delete(key: string): Promise<void> {
    const command = new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key });
    // S3 answers 204 for a missing key; some S3-compatibles answer 404 NoSuchKey instead.
    await this.send(command, `delete ${key} from`, { missingIsUndefined: true });
    this.stats.deletes += 1;
  }

  async list(keyPrefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let continuationToken: string | undefined;
    do {
      const command = new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.prefix + keyPrefix,
        MaxKeys: this.listPageKeys,
        ContinuationToken: continuationToken,
      });
      const page = await this.send<ListObjectsV2CommandOutput>(command, `list ${keyPrefix}* in`);
      this.stats.lists += 1;
      for (const object of page.Contents ?? []) {
        // The listing is the object store's answer, not ours: a key outside what was asked for
        // is a broken store or proxy, and says so rather than failing an assertion.
        const key = object.Key;
        if (key === undefined || !key.startsWith(this.prefix + keyPrefix)) {
          this.stats.failures += 1;
          throw this.unavailable(
            `list ${keyPrefix}* in`,
            `the object store listed key "${String(key)}", which is not below "${this.prefix}${keyPrefix}"`,
          );
        }
        objects.push({ key: key.slice(this.prefix.length), sizeBytes: object.Size ?? 0 });
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
    return objects;
  }

  /** Creates the bucket; one that exists already is fine. For tests, the bench and the demo. */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const code = codeOf(error);
      if (code === "BucketAlreadyOwnedByYou" || code === "BucketAlreadyExists") return;
      this.stats.failures += 1;
      throw this.failure("create bucket for", error);
    }
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.client.destroy();
  }

  /**
   * Sends one command through the SDK's retries and counts the retries; a failure becomes a
   * GsnapError, or undefined for a missing object (or a conditional PUT that found one) when the
   * caller asks for that.
   */
  private send<Output extends { $metadata: SdkMetadata }>(
    command: { readonly input: unknown },
    what: string,
  ): Promise<Output>;
  private send<Output extends { $metadata: SdkMetadata }>(
    command: { readonly input: unknown },
    what: string,
    options: { missingIsUndefined?: boolean; preconditionFailedIsUndefined?: boolean },
  ): Promise<Output | undefined>;
  private async send<Output extends { $metadata: SdkMetadata }>(
    command: { readonly input: unknown },
    what: string,
    options?: { missingIsUndefined?: boolean; preconditionFailedIsUndefined?: boolean },
  ): Promise<Output | undefined> {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: the client's send is overloaded per command.
      const output = (await this.client.send(command as any)) as Output;
      this.stats.retries += Math.max(0, (output.$metadata.attempts ?? 1) - 1);
      return output;
    } catch (error) {
      const metadata = metadataOf(error);
      this.stats.retries += Math.max(0, (metadata.attempts ?? 1) - 1);
      const code = codeOf(error);
      if (options?.missingIsUndefined && code !== "NoSuchBucket") {
        if (code === "NoSuchKey" || metadata.httpStatusCode === 404) return undefined;
      }
      if (options?.preconditionFailedIsUndefined) {
        if (code === "PreconditionFailed" || metadata.httpStatusCode === 412) return undefined;
      }
      this.stats.failures += 1;
      throw this.failure(what, error);
    }
  }

  private failure(what: string, error: unknown): GsnapError {
    const metadata = metadataOf(error);
    const code = codeOf(error);
    const status = metadata.httpStatusCode;
    const timedOut = code === "TimeoutError" && /requestTimeout/.test((error as Error).message);
    const detail = timedOut ? `no answer within ${this.requestTimeoutMs} ms` : describeCause(error);
    if (code === "NoSuchBucket") {
      return this.refused(what, `bucket "${this.bucket}" does not exist (${detail})`, error);
    }
    if ((error as Error).name === "CredentialsProviderError") {
      return this.refused(
        what,
        "no credentials were given (--s3-access-key and --s3-secret-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
        error,
      );
    }
    if (REFUSED_CODES.has(code) || status === 403) {
      return this.refused(what, `the object store refused the credentials (${detail})`, error);
    }
    const attempts = metadata.attempts ?? 1;
    const tries = attempts === 1 ? "after 1 attempt" : `after ${attempts} attempts`;
    if (status === undefined) {
      return this.unavailable(what, `the object store did not answer (${detail}) ${tries}`, error);
    }
    if (attempts === 1) {
      return this.unavailable(what, `the object store failed the request (${detail})`, error);
    }
    return this.unavailable(what, `the object store kept failing (${detail}) ${tries}`, error);
  }

  private refused(what: string, why: string, cause: unknown): GsnapError {
    return new GsnapError("OBJECT_STORE_REFUSED", `Cannot ${what} ${this.description}: ${why}`, {
      cause,
    });
  }

  private unavailable(what: string, why: string, cause?: unknown): GsnapError {
    return new GsnapError(
      "OBJECT_STORE_UNAVAILABLE",
      `Cannot ${what} ${this.description}: ${why}`,
      { cause },
    );
  }
}

/** Creates the bucket of `options` if it does not exist yet. */
export async function ensureBucket(options: S3ObjectStoreOptions): Promise<void> {
  const store = new S3ObjectStore(options);
  try {
    await store.ensureBucket();
  } finally {
    store.close();
  }
}

/** An inclusive byte range as S3 writes it: "a-b". */
function rangeText(range: ObjectRange): string {
  return `${range.offsetBytes}-${range.offsetBytes + range.lengthBytes - 1}`;
}

/** The short reason inside a message: "503 SlowDown: Please reduce...", "connect ECONNREFUSED". */
function describeCause(error: unknown): string {
  const status = metadataOf(error).httpStatusCode;
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (status !== undefined) {
    return message === "" || message === code || message === "UnknownError"
      ? `${status} ${code}`
      : `${status} ${code}: ${message}`;
  }
  if (message === "") return code;
  return message;
}

/**
 * Keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when none are
 * given. Not the SDK's whole default chain: its last resort asks the cloud's instance metadata
 * address, and a storage system should fail at once with a clear error rather than reach out.
 */
async function credentialsFromEnv(): Promise<{
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}> {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    const error = new Error("no access key and secret key in the environment");
    error.name = "CredentialsProviderError";
    throw error;
  }
  const sessionToken = process.env.AWS_SESSION_TOKEN || undefined;
  return sessionToken === undefined
    ? { accessKeyId, secretAccessKey }
    : { accessKeyId, secretAccessKey, sessionToken };
}
