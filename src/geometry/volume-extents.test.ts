import { describe, expect, it } from "vitest";
import { parseVolumeExtents } from "./volume-extents.js";

describe("volume and extents text", () => {
  it("names a volume alone", () => {
    expect(parseVolumeExtents("VOL002")).toEqual({ volser: "VOL002" });
  });

  it("names a volume and its extents", () => {
    expect(parseVolumeExtents("VOL001:0.0-9.14+20.0-20.14")).toEqual({
      volser: "VOL001",
      extents: [
        { firstTrack: 0, lastTrack: 149 },
        { firstTrack: 300, lastTrack: 314 },
      ],
    });
  });

  it("refuses a bad VOLSER or extent with their codes", () => {
    expect(() => parseVolumeExtents("vol1:0.0-1.0")).toThrow(
      expect.objectContaining({ code: "VOLSER_INVALID" }),
    );
    expect(() => parseVolumeExtents("VOL1:0.0")).toThrow(
      expect.objectContaining({ code: "EXTENT_MALFORMED" }),
    );
  });
});
