import { describe, expect, it } from "vitest";
import { codeOf } from "../testing/error-code.js";
import { geometryFor, trackCount } from "./geometry.js";
import { checkSerial, checkSsid, checkVolser } from "./names.js";

describe("geometry", () => {
  it("gives each 3390 model its cylinders and 15 heads", () => {
    expect(trackCount(geometryFor({ model: "3390-3" }))).toBe(50_085);
    expect(trackCount(geometryFor({ model: "3390-54" }))).toBe(982_800);
    expect(geometryFor({ model: "3390-1" }).cylinders).toBe(1_113);
    expect(geometryFor({ model: "3390-9" }).cylinders).toBe(10_017);
  });

  it("defaults to 57,344-byte tracks", () => {
    expect(geometryFor({ model: "3390-1" }).trackSizeBytes).toBe(57_344);
  });

  it("takes any cylinder count up to 1,182,006 as 3390-A", () => {
    expect(geometryFor({ cylinders: 7 })).toMatchObject({ model: "3390-A", cylinders: 7 });
    expect(geometryFor({ model: "3390-A", cylinders: 1_182_006 }).cylinders).toBe(1_182_006);
    expect(codeOf(() => geometryFor({ cylinders: 1_182_007 }))).toBe("CYLINDERS_INVALID");
    expect(codeOf(() => geometryFor({ cylinders: 0 }))).toBe("CYLINDERS_INVALID");
    expect(codeOf(() => geometryFor({ model: "3390-A" }))).toBe("CYLINDERS_INVALID");
  });

  it("refuses a fixed model with another cylinder count", () => {
    expect(codeOf(() => geometryFor({ model: "3390-3", cylinders: 10 }))).toBe("CYLINDERS_INVALID");
  });

  it("refuses unknown models with MODEL_UNKNOWN", () => {
    expect(codeOf(() => geometryFor({ model: "3380-K" }))).toBe("MODEL_UNKNOWN");
  });

  it("refuses track sizes that are not multiples of 4096 with TRACK_SIZE_INVALID", () => {
    expect(codeOf(() => geometryFor({ trackSizeBytes: 56_664 }))).toBe("TRACK_SIZE_INVALID");
    expect(codeOf(() => geometryFor({ trackSizeBytes: 0 }))).toBe("TRACK_SIZE_INVALID");
    expect(geometryFor({ trackSizeBytes: 4_096 }).trackSizeBytes).toBe(4_096);
  });
});

describe("names", () => {
  it("accept VOLSERs of 1 to 6 of A-Z 0-9 @ # $ and refuse others with VOLSER_INVALID", () => {
    expect(checkVolser("VOL001")).toBe("VOL001");
    expect(checkVolser("@#$")).toBe("@#$");
    for (const bad of ["", "VOL0001", "vol001", "VOL-1", "VOL 1"]) {
      expect(codeOf(() => checkVolser(bad))).toBe("VOLSER_INVALID");
    }
  });

  it("accept SSIDs of 4 hex digits, upper-cased, and refuse others with SSID_INVALID", () => {
    expect(checkSsid("01a0")).toBe("01A0");
    for (const bad of ["1A0", "01A0F", "01G0"])
      expect(codeOf(() => checkSsid(bad))).toBe("SSID_INVALID");
  });

  it("accept serials of 1 to 10 of 0-9 A-Z and refuse others with SERIAL_INVALID", () => {
    expect(checkSerial("0000012345")).toBe("0000012345");
    for (const bad of ["", "00000123456", "abc"]) {
      expect(codeOf(() => checkSerial(bad))).toBe("SERIAL_INVALID");
    }
  });
});
