import { describe, expect, it } from "vitest";
import { splitByTracks } from "./track-io.js";

describe("splitting a byte range by tracks", () => {
  it("keeps a range inside one track as one partial piece", () => {
    expect(splitByTracks({ offsetBytes: 10, lengthBytes: 20 }, 100)).toEqual({
      firstWholeTrack: 1,
      wholeTracks: 0,
      partials: [{ offsetBytes: 10, lengthBytes: 20 }],
    });
  });

  it("gives whole tracks and the pieces at both ends", () => {
    expect(splitByTracks({ offsetBytes: 50, lengthBytes: 300 }, 100)).toEqual({
      firstWholeTrack: 1,
      wholeTracks: 2,
      partials: [
        { offsetBytes: 50, lengthBytes: 50 },
        { offsetBytes: 300, lengthBytes: 50 },
      ],
    });
  });

  it("has no partial pieces for an aligned range and none for an empty one", () => {
    expect(splitByTracks({ offsetBytes: 100, lengthBytes: 200 }, 100).partials).toEqual([]);
    expect(splitByTracks({ offsetBytes: 7, lengthBytes: 0 }, 100).partials).toEqual([]);
  });
});
