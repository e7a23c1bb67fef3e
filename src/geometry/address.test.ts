import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codeOf } from "../testing/error-code.js";
import {
  checkExtentInVolume,
  extentTrackCount,
  formatExtentList,
  parseExtent,
  parseExtentList,
  parseTrackAddress,
  totalTrackCount,
  trackIndex,
} from "./address.js";
import { geometryFor, HEADS } from "./geometry.js";

describe("track addresses", () => {
  it("index tracks as cylinder * 15 + head", () => {
    expect(trackIndex(parseTrackAddress("0.0"))).toBe(0);
    expect(trackIndex(parseTrackAddress("99.14"))).toBe(1499);
    expect(trackIndex(parseTrackAddress("100.0"))).toBe(1500);
  });

  it("refuse malformed text with ADDRESS_MALFORMED quoting the input", () => {
    for (const text of ["", "1", "1.", ".1", "a.b", "1.2.3", "-1.0", "1.100", "12345678.0"]) {
      expect(codeOf(() => parseTrackAddress(text))).toBe("ADDRESS_MALFORMED");
    }
    expect(() => parseTrackAddress("x.y")).toThrow('"x.y"');
  });

  it("refuse head 15 or more with HEAD_OUT_OF_RANGE", () => {
    expect(codeOf(() => parseTrackAddress("3.15"))).toBe("HEAD_OUT_OF_RANGE");
    expect(codeOf(() => parseTrackAddress("3.14"))).toBeUndefined();
  });
});

describe("extents", () => {
  it("count tracks inclusively", () => {
    expect(extentTrackCount(parseExtent("0.0-99.14"))).toBe(1500);
    expect(extentTrackCount(parseExtent("5.3-5.3"))).toBe(1);
  });

  it("refuse a missing or extra dash with EXTENT_MALFORMED", () => {
    expect(codeOf(() => parseExtent("0.0"))).toBe("EXTENT_MALFORMED");
    expect(codeOf(() => parseExtent("0.0-1.0-2.0"))).toBe("EXTENT_MALFORMED");
  });

  it("refuse a reversed range with EXTENT_REVERSED", () => {
    expect(codeOf(() => parseExtent("10.0-9.14"))).toBe("EXTENT_REVERSED");
  });

  it("join with + up to 32 and refuse 33 with EXTENT_LIST_TOO_LONG", () => {
    const list = Array.from({ length: 32 }, (_, i) => `${i}.0-${i}.14`).join("+");
    expect(totalTrackCount(parseExtentList(list))).toBe(32 * 15);
    expect(codeOf(() => parseExtentList(`${list}+40.0-40.0`))).toBe("EXTENT_LIST_TOO_LONG");
  });

  it("refuse cylinders past the end of the volume with CYLINDER_OUT_OF_RANGE", () => {
    const geometry = geometryFor({ model: "3390-1" });
    checkExtentInVolume(parseExtent("0.0-1112.14"), geometry, "VOL001");
    expect(codeOf(() => checkExtentInVolume(parseExtent("0.0-1113.0"), geometry, "VOL001"))).toBe(
      "CYLINDER_OUT_OF_RANGE",
    );
  });

  it("format back to the text they were parsed from", () => {
    const address = fc
      .tuple(fc.integer({ min: 0, max: 1_182_005 }), fc.integer({ min: 0, max: HEADS - 1 }))
      .map(([cylinder, head]) => cylinder * HEADS + head);
    const extent = fc
      .tuple(address, address)
      .map(([a, b]) => ({ firstTrack: Math.min(a, b), lastTrack: Math.max(a, b) }));
    fc.assert(
      fc.property(fc.array(extent, { minLength: 1, maxLength: 32 }), (extents) => {
        const text = formatExtentList(extents);
        expect(parseExtentList(text)).toEqual(extents);
      }),
    );
  });
});
