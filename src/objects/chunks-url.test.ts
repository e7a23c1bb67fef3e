// Chunks URLs: the forms a user writes, and the malformed ones each refused with a clear reason.

import { describe, expect, it } from "vitest";
import { isGsnapError } from "../errors/gsnap-error.js";
import { parseChunksUrl } from "./chunks-url.js";

function messageOf(url: string): string {
  try {
    parseChunksUrl(url);
  } catch (error) {
    if (isGsnapError(error, "REQUEST_INVALID")) return error.message;
    throw error;
  }
  throw new Error(`parseChunksUrl("${url}") did not throw`);
}

describe("parseChunksUrl", () => {
  it("takes a bare bucket as an empty prefix", () => {
    expect(parseChunksUrl("s3://chunks")).toEqual({ bucket: "chunks", prefix: "" });
    expect(parseChunksUrl("s3://chunks/")).toEqual({ bucket: "chunks", prefix: "" });
  });

  it("normalises a prefix to end with one slash", () => {
    expect(parseChunksUrl("s3://my-bucket.1/a/b")).toEqual({
      bucket: "my-bucket.1",
      prefix: "a/b/",
    });
    expect(parseChunksUrl("s3://abc/a/b/")).toEqual({ bucket: "abc", prefix: "a/b/" });
    expect(parseChunksUrl("s3://abc//a//b//")).toEqual({ bucket: "abc", prefix: "a/b/" });
  });

  it("accepts bucket names of 3 and 63 characters", () => {
    expect(parseChunksUrl("s3://abc").bucket).toBe("abc");
    const longest = `a${"b".repeat(61)}c`;
    expect(parseChunksUrl(`s3://${longest}/p`).bucket).toBe(longest);
  });

  it("refuses other schemes", () => {
    expect(messageOf("http://bucket/p")).toBe(
      'Cannot use chunks URL "http://bucket/p": it does not start with "s3://"',
    );
    expect(messageOf("S3://bucket")).toMatch(/does not start with "s3:\/\/"/);
    expect(messageOf("bucket/p")).toMatch(/does not start with/);
  });

  it("refuses a missing bucket", () => {
    expect(messageOf("s3://")).toBe('Cannot use chunks URL "s3://": it names no bucket');
    expect(messageOf("s3:///prefix")).toMatch(/names no bucket/);
  });

  it("refuses bucket names S3 does not allow", () => {
    for (const bucket of [
      "ab",
      "a".repeat(64),
      "Upper",
      "under_score",
      "-dash",
      "dash-",
      ".dot",
      "a..b",
      "192.168.1.1",
      "sp ace",
    ]) {
      expect(messageOf(`s3://${bucket}/p`)).toContain(`bucket "${bucket}" is not a valid S3`);
    }
  });

  it("refuses dot segments in the prefix", () => {
    expect(messageOf("s3://bucket/a/../b")).toMatch(/has a "\." or "\.\." segment/);
  });
});
