// Where a store keeps its chunks in an object store, as the user writes it: `s3://BUCKET` or
// `s3://BUCKET/some/prefix`. Pure parsing; the S3 client is in s3-object-store.ts.

import { GsnapError } from "../errors/gsnap-error.js";

export interface ChunksLocation {
  readonly bucket: string;
  /** "" or a key prefix ending in "/", so that keys are `prefix + name`. */
  readonly prefix: string;
}

/**
 * S3's rules for bucket names: 3 to 63 of a-z 0-9 . -, starting and ending with a letter or
 * digit. (S3 also forbids ".." and names shaped like IP addresses; radosgw accepts those, and
 * they are refused below all the same so that a URL works with any S3-compatible store.)
 */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IP_ADDRESS = /^\d+\.\d+\.\d+\.\d+$/;
const SCHEME = "s3://";

/** Parses a chunks URL; a malformed one is a REQUEST_INVALID error that says what is wrong. */
export function parseChunksUrl(url: string): ChunksLocation {
  const invalid = (why: string) =>
    new GsnapError("REQUEST_INVALID", `Cannot use chunks URL "${url}": ${why}`);
  if (!url.startsWith(SCHEME)) throw invalid('it does not start with "s3://"');
  const rest = url.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash + 1);
  if (bucket === "") throw invalid("it names no bucket");
  if (!BUCKET_NAME.test(bucket) || bucket.includes("..") || IP_ADDRESS.test(bucket)) {
    throw invalid(
      `bucket "${bucket}" is not a valid S3 bucket name (3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit)`,
    );
  }
  const segments = path.split("/").filter((segment) => segment !== "");
  if (segments.some((segment) => segment === "." || segment === "..")) {
    throw invalid(`prefix "${path}" has a "." or ".." segment`);
  }
  return { bucket, prefix: segments.length === 0 ? "" : `${segments.join("/")}/` };
}
