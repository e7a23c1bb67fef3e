// The link's track checksum and the store's chunk checksum must be the same function: a pair's
// secondary stores the checksum a track arrived with as the chunk's own (Store.writeTracks).

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { trackChecksum } from "../link/track-checksum.js";
import { chunkChecksum } from "../store/checksum.js";

describe("track and chunk checksums", () => {
  it("agree on every image", () => {
    for (const size of [0, 1, 4096, 57_344, 1_048_576]) {
      const data = randomBytes(size);
      expect(trackChecksum(data)).toBe(chunkChecksum(data));
    }
  });
});
