// Where `gsnap serve` keeps its chunks: in local segment files (the default), or staged locally and
// uploaded to an S3 object store (`--chunks s3://BUCKET[/PREFIX]` and the `--s3-*` settings).
// Pure validation of the settings as the user writes them; chunk-backend.ts opens the device.

import { GsnapError } from "../errors/gsnap-error.js";
import { parseChunksUrl } from "../objects/chunks-url.js";
import { SEGMENT_MAX_BYTES } from "../store/segment-device.js";

export type ChunksConfig = LocalChunksConfig | S3ChunksConfig;

export interface LocalChunksConfig {
  readonly kind: "local";
}

export interface S3ChunksConfig {
  readonly kind: "s3";
  /** As the user wrote it, normalised: `s3://BUCKET/` or `s3://BUCKET/PREFIX/`. */
  readonly url: string;
  readonly bucket: string;
  /** "" or a key prefix ending in "/". */
  readonly prefix: string;
  /** Undefined: the SDK's own (AWS_ENDPOINT_URL, else AWS). */
  readonly endpoint?: string;
  /** Undefined: AWS_REGION, else us-east-1. */
  readonly region?: string;
  /** Undefined: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly cacheBytes: number;
  readonly segmentBytes: number;
}

/** The settings of the chunk backend, as a config file or the flags give them. */
export interface ChunksSettings {
  chunks?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3AccessKey?: string;
  s3SecretKey?: string;
  /** MiB, 1 to MAX_S3_CACHE_MIB. */
  s3CacheMib?: string | number;
  /** MiB, 1 to MAX_S3_SEGMENT_MIB. */
  s3SegmentMib?: string | number;
}

export const CHUNKS_SETTING_KEYS = [
  "chunks",
  "s3Endpoint",
  "s3Region",
  "s3AccessKey",
  "s3SecretKey",
  "s3CacheMib",
  "s3SegmentMib",
] as const;

export const DEFAULT_S3_CACHE_MIB = 256;
export const DEFAULT_S3_SEGMENT_MIB = 32;
/** The read cache lives in memory: 64 GiB is more than any machine this runs on should give it. */
export const MAX_S3_CACHE_MIB = 65_536;
/** A segment is read whole into memory for its one PUT; the local segment limit bounds that. */
export const MAX_S3_SEGMENT_MIB = SEGMENT_MAX_BYTES / (1024 * 1024);

const MIB = 1024 * 1024;

/** The flag each setting comes from, for messages. */
const FLAGS: Record<(typeof CHUNKS_SETTING_KEYS)[number], string> = {
  chunks: "--chunks",
  s3Endpoint: "--s3-endpoint",
  s3Region: "--s3-region",
  s3AccessKey: "--s3-access-key",
  s3SecretKey: "--s3-secret-key",
  s3CacheMib: "--s3-cache-mib",
  s3SegmentMib: "--s3-segment-mib",
};

export function resolveChunks(settings: ChunksSettings): ChunksConfig {
  const chunks = settings.chunks ?? "local";
  if (typeof chunks !== "string") throw invalid("--chunks", "give local or s3://BUCKET[/PREFIX]");
  if (chunks === "local") {
    const stray = CHUNKS_SETTING_KEYS.find(
      (key) => key !== "chunks" && settings[key] !== undefined,
    );
    if (stray !== undefined) {
      throw invalid(FLAGS[stray], "chunks are local (give --chunks s3://BUCKET[/PREFIX] too)");
    }
    return { kind: "local" };
  }
  if (!chunks.startsWith("s3://")) {
    throw invalid("--chunks", `"${chunks}" is neither local nor s3://BUCKET[/PREFIX]`);
  }
  const { bucket, prefix } = parseChunksUrl(chunks);
  return {
    kind: "s3",
    url: `s3://${bucket}/${prefix}`,
    bucket,
    prefix,
    endpoint: checkEndpoint(settings.s3Endpoint),
    region: checkText(settings.s3Region, "s3Region"),
    credentials: checkCredentials(settings),
    cacheBytes: checkMib(
      settings.s3CacheMib ?? DEFAULT_S3_CACHE_MIB,
      "s3CacheMib",
      MAX_S3_CACHE_MIB,
    ),
    segmentBytes: checkMib(
      settings.s3SegmentMib ?? DEFAULT_S3_SEGMENT_MIB,
      "s3SegmentMib",
      MAX_S3_SEGMENT_MIB,
    ),
  };
}

function invalid(flag: string, why: string): GsnapError {
  return new GsnapError("REQUEST_INVALID", `Cannot use ${flag}: ${why}`);
}

function checkText(value: unknown, key: keyof ChunksSettings): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalid(FLAGS[key], "it is not text");
  if (value === "") throw invalid(FLAGS[key], "it is empty");
  return value;
}

/** An http(s) URL without credentials in it: they would show in logs and in the API. */
function checkEndpoint(value: unknown): string | undefined {
  const text = checkText(value, "s3Endpoint");
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid("--s3-endpoint", `"${text}" is not a URL (write it as http://HOST:PORT)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid("--s3-endpoint", `"${text}" is not an http or https URL`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(
      "--s3-endpoint",
      "the URL holds credentials; give them with --s3-access-key and --s3-secret-key",
    );
  }
  return text;
}

/** Both keys or neither: one alone would silently mix with the other from the environment. */
function checkCredentials(settings: ChunksSettings): S3ChunksConfig["credentials"] {
  const accessKeyId = checkText(settings.s3AccessKey, "s3AccessKey");
  const secretAccessKey = checkText(settings.s3SecretKey, "s3SecretKey");
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw invalid(
      accessKeyId === undefined ? "--s3-secret-key" : "--s3-access-key",
      "give both --s3-access-key and --s3-secret-key (or neither, to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
    );
  }
  return { accessKeyId, secretAccessKey };
}

function checkMib(value: unknown, key: keyof ChunksSettings, max: number): number {
  // Only a number or the text of one: Number(true) or Number([5]) would pass for one.
  const mib = typeof value === "number" || typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isInteger(mib) || mib < 1 || mib > max) {
    throw invalid(FLAGS[key], `"${String(value)}" is not a whole number of MiB from 1 to ${max}`);
  }
  return mib * MIB;
}
