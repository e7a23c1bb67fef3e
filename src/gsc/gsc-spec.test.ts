import { describe, expect, it } from "vitest";
import { parseExtentList } from "../geometry/address.js";
import { codeOf } from "../testing/error-code.js";
import { checkGscRequest, splitGscText } from "./gsc-spec.js";
import type { GscRequest } from "./job-service.js";

const REQUEST: GscRequest = {
  source: "VOL001:0.0-99.14",
  intermediate: "*",
  target: "0000012345.01A0.VOL900",
};

const WITH_S_PRIME: GscRequest = {
  ...REQUEST,
  target: "0000012345.01A0.VOL900:100.0-199.14",
  targetIntermediate: "*",
};

describe("splitGscText", () => {
  it("splits three or four parameters at commas, with or without spaces", () => {
    expect(splitGscText("VOL001:0.0-9.14, *, 0000012345.01A0.VOL900")).toEqual({
      source: "VOL001:0.0-9.14",
      intermediate: "*",
      target: "0000012345.01A0.VOL900",
    });
    expect(splitGscText("VOL001:0.0-9.14,P00001 ,  1.01A0.VOL900:5.0-14.14,S00001")).toEqual({
      source: "VOL001:0.0-9.14",
      intermediate: "P00001",
      target: "1.01A0.VOL900:5.0-14.14",
      targetIntermediate: "S00001",
    });
  });

  it.each(["", "VOL001:0.0-9.14", "A, B", "A, B, C, D, E", "A, , C", "A, B, C, "])(
    "refuses %j with GSC_REQUEST_MALFORMED, showing the form and an example",
    (text) => {
      expect(codeOf(() => splitGscText(text))).toBe("GSC_REQUEST_MALFORMED");
      expect(() => splitGscText(text)).toThrow(
        /write it as "P, P', S\[, S'\]".+like gsnap gsc "VOL001:0\.0-99\.14, \*, /,
      );
    },
  );
});

describe("checkGscRequest", () => {
  it("checks a request without S': the target takes P's addresses, with no extent of its own", () => {
    expect(checkGscRequest({ ...REQUEST, bandwidthMBps: 200 })).toEqual({
      source: { volser: "VOL001", extents: parseExtentList("0.0-99.14") },
      intermediate: "auto",
      target: { serial: "0000012345", ssid: "01A0", volser: "VOL900" },
      bandwidthBytesPerSecond: 200_000_000,
    });
  });

  it("checks a request with S' and a target extent elsewhere of the same size", () => {
    const spec = checkGscRequest({
      ...WITH_S_PRIME,
      intermediate: "P00001",
      targetIntermediate: "S00001",
      notifyUrl: "https://ops.example.com/done",
    });
    expect(spec).toEqual({
      source: { volser: "VOL001", extents: parseExtentList("0.0-99.14") },
      intermediate: { volser: "P00001" },
      target: {
        serial: "0000012345",
        ssid: "01A0",
        volser: "VOL900",
        extents: parseExtentList("100.0-199.14"),
      },
      targetIntermediate: { volser: "S00001" },
      notifyUrl: "https://ops.example.com/done",
    });
  });

  it("fills in P's extents as the target's when S' is given without a target extent", () => {
    const spec = checkGscRequest({
      ...REQUEST,
      source: "VOL001:0.0-1.14+5.0-5.14",
      targetIntermediate: "*",
    });
    expect(spec.target.extents).toEqual(parseExtentList("0.0-1.14+5.0-5.14"));
    expect(spec.targetIntermediate).toBe("auto");
  });

  it("accepts several target extents that add up to P's track count", () => {
    const spec = checkGscRequest({
      ...WITH_S_PRIME,
      target: "0000012345.01A0.VOL900:0.0-49.14+200.0-249.14",
    });
    expect(spec.target.extents).toHaveLength(2);
  });

  it.each([
    [{ source: "VOL001" }, "GSC_REQUEST_MALFORMED", /the source P names no extents/],
    [{ source: "vol001:0.0-1.14" }, "VOLSER_INVALID", /VOLSER "vol001"/],
    [{ source: "VOL001:0.0-1.15" }, "HEAD_OUT_OF_RANGE", /head 15/],
    [{ source: "VOL001:9.0-1.14" }, "EXTENT_REVERSED", /ends before it starts/],
    [{ source: "VOL001:0.0" }, "EXTENT_MALFORMED", /C\.H-C\.H/],
    [
      { source: `VOL001:${Array.from({ length: 33 }, (_, i) => `${i}.0-${i}.1`).join("+")}` },
      "EXTENT_LIST_TOO_LONG",
      /33 extents given, at most 32/,
    ],
    [
      { source: "VOL001:0.0-9.14+5.0-5.14" },
      "EXTENTS_OVERLAP",
      /extents 0\.0-9\.14 and 5\.0-5\.14 overlap/,
    ],
    [{ intermediate: "p00001" }, "VOLSER_INVALID", /intermediate P'.+or \* to have one/],
    [{ intermediate: "**" }, "VOLSER_INVALID", /intermediate P'/],
    [{ intermediate: "VOL001" }, "GSC_REQUEST_MALFORMED", /is the source volume itself/],
    [{ target: "0000012345.01A0" }, "REQUEST_INVALID", /SERIAL\.SSID\.VOLSER/],
    [{ target: "x.01A0.VOL900" }, "SERIAL_INVALID", /serial "x"/],
    [{ target: "1.1A0.VOL900" }, "SSID_INVALID", /SSID "1A0"/],
    [{ target: "1.01A0.vol900" }, "VOLSER_INVALID", /VOLSER "vol900"/],
    [
      { target: "1.01A0.VOL900:0.0-99.14" },
      "GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE",
      /no target intermediate S'; add S'/,
    ],
    [{ bandwidthMBps: 0 }, "REQUEST_INVALID", /bandwidth 0 MB\/s/],
    [{ bandwidthMBps: -5 }, "REQUEST_INVALID", /bandwidth -5 MB\/s/],
    [{ bandwidthMBps: 100_001 }, "REQUEST_INVALID", /from 0\.1 to 100000/],
    [
      { bandwidthMBps: 0.0000001 },
      "REQUEST_INVALID",
      /bandwidth 1e-7 MB\/s is not a number from 0\.1/,
    ],
    [{ bandwidthMBps: Number.NaN }, "REQUEST_INVALID", /bandwidth/],
    [{ notifyUrl: "ftp://ops.example.com/x" }, "REQUEST_INVALID", /not an http or https URL/],
    [{ notifyUrl: "not a url" }, "REQUEST_INVALID", /not an http or https URL/],
  ] as [Partial<GscRequest>, string, RegExp][])("refuses %j with %s", (fields, code, message) => {
    const request = { ...REQUEST, ...fields };
    expect(codeOf(() => checkGscRequest(request))).toBe(code);
    expect(() => checkGscRequest(request)).toThrow(message);
    expect(() => checkGscRequest(request)).toThrow(/^Cannot /);
  });

  it.each([
    [{ targetIntermediate: "s00001" }, "VOLSER_INVALID", /intermediate S'/],
    [
      { target: "1.01A0.VOL900:0.0-98.14" },
      "EXTENT_SIZE_MISMATCH",
      /hold 1500 tracks but the target extents hold 1485/,
    ],
    [
      { target: "1.01A0.VOL900:0.0-49.14+40.0-89.14" },
      "EXTENTS_OVERLAP",
      /extents 0\.0-49\.14 and 40\.0-89\.14 overlap/,
    ],
    [{ target: "1.01A0.VOL900:0.0-99.15" }, "HEAD_OUT_OF_RANGE", /head 15/],
  ] as [Partial<GscRequest>, string, RegExp][])(
    "refuses with S' %j with %s",
    (fields, code, message) => {
      const request = { ...WITH_S_PRIME, ...fields };
      expect(codeOf(() => checkGscRequest(request))).toBe(code);
      expect(() => checkGscRequest(request)).toThrow(message);
    },
  );
});
