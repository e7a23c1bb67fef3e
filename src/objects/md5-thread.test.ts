import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { md5Base64 } from "./md5-thread.js";

function md5(body: Buffer): string {
  return createHash("md5").update(body).digest("base64");
}

describe("md5 on a worker thread", () => {
  it("gives the same digest as node:crypto for small, large and shared bodies, at once", async () => {
    const small = randomBytes(1000);
    const large = randomBytes(3 * 1024 * 1024 + 17);
    const shared = Buffer.from(new SharedArrayBuffer(2 * 1024 * 1024 + 8)).subarray(8);
    randomBytes(shared.length).copy(shared);
    const digests = await Promise.all([md5Base64(small), md5Base64(large), md5Base64(shared)]);
    expect(digests).toEqual([md5(small), md5(large), md5(shared)]);
  });
});
