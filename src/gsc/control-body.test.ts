import { describe, expect, it } from "vitest";
import { ControlOp } from "../link/frame-types.js";
import { codeOf } from "../testing/error-code.js";
import {
  decodeChecksums,
  encodeChecksums,
  MAX_CHECKSUM_RUNS,
  MAX_CHECKSUM_TRACKS,
  parseControl,
} from "./control-body.js";
import { checksumList } from "./copy-runs.js";

describe("control bodies", () => {
  it("reads each op's fields", () => {
    expect(parseControl(ControlOp.VOLUME_INFO, '{"volser":"VOL900"}')).toEqual({
      op: "VOLUME_INFO",
      body: { volser: "VOL900" },
    });
    expect(
      parseControl(
        ControlOp.RESERVE,
        '{"job":"J000001","ssid":"01b0","create":{"cylinders":20,"trackSizeBytes":57344}}',
      ),
    ).toEqual({
      op: "RESERVE",
      body: {
        job: "J000001",
        ssid: "01B0",
        volser: undefined,
        extents: undefined,
        create: { cylinders: 20, trackSizeBytes: 57_344 },
      },
    });
    expect(
      parseControl(ControlOp.CHECKSUMS, '{"job":"J000002","volser":"V","runs":[[3,9],[1,1]]}'),
    ).toMatchObject({
      op: "CHECKSUMS",
      body: {
        runs: [
          { firstTrack: 3, count: 9 },
          { firstTrack: 1, count: 1 },
        ],
      },
    });
    expect(parseControl(ControlOp.FLUSH, "{}")).toEqual({ op: "FLUSH", body: {} });
  });

  it("refuses missing, mistyped and out-of-range fields with clear errors", () => {
    const code = (op: number, body: string) => codeOf(() => parseControl(op, body));
    expect(code(99, "{}")).toBe("REQUEST_INVALID");
    expect(code(ControlOp.FLUSH, "not json")).toBe("REQUEST_INVALID");
    expect(code(ControlOp.VOLUME_INFO, "null")).toBe("REQUEST_INVALID");
    expect(code(ControlOp.VOLUME_INFO, "[]")).toBe("REQUEST_INVALID");
    expect(code(ControlOp.VOLUME_INFO, "{}")).toBe("REQUEST_INVALID");
    expect(code(ControlOp.VOLUME_INFO, '{"volser":"lower"}')).toBe("VOLSER_INVALID");
    expect(code(ControlOp.RELEASE, '{"job":"../etc"}')).toBe("REQUEST_INVALID");
    expect(code(ControlOp.RESERVE, '{"job":"J000001","ssid":"XYZ"}')).toBe("SSID_INVALID");
    expect(code(ControlOp.RESERVE, '{"job":"J000001","ssid":"01B0","create":7}')).toBe(
      "REQUEST_INVALID",
    );
  });

  it("refuses CHECKSUMS runs that are malformed, empty, too many or too long in all", () => {
    const checksums = (runs: unknown) =>
      codeOf(() =>
        parseControl(ControlOp.CHECKSUMS, JSON.stringify({ job: "J000001", volser: "V", runs })),
      );
    expect(checksums(undefined)).toBe("REQUEST_INVALID");
    expect(checksums([])).toBe("REQUEST_INVALID");
    expect(checksums([[0, 1, 2]])).toBe("REQUEST_INVALID");
    expect(checksums([{ firstTrack: 0, count: 1 }])).toBe("REQUEST_INVALID");
    expect(checksums([[-1, 1]])).toBe("REQUEST_INVALID");
    expect(checksums([[0, 0]])).toBe("REQUEST_INVALID");
    expect(checksums([[0.5, 1]])).toBe("REQUEST_INVALID");
    expect(checksums([[0, MAX_CHECKSUM_TRACKS + 1]])).toBe("REQUEST_INVALID");
    // Each run within bounds, but more tracks in all than one answer holds.
    expect(
      checksums([
        [0, MAX_CHECKSUM_TRACKS],
        [MAX_CHECKSUM_TRACKS, 1],
      ]),
    ).toBe("REQUEST_INVALID");
    const many = Array.from({ length: MAX_CHECKSUM_RUNS + 1 }, (_, index) => [index * 2, 1]);
    expect(checksums(many)).toBe("REQUEST_INVALID");
    expect(checksums(many.slice(1))).toBeUndefined();
  });

  it("carries checksums in base64 and refuses a list of the wrong length", () => {
    const list = checksumList([0n, 1n, 0xffff_ffff_ffff_ffffn, 1234567890123456789n]);
    expect(decodeChecksums(encodeChecksums(list), 4).equals(list)).toBe(true);
    expect(codeOf(() => decodeChecksums(encodeChecksums(list), 5))).toBe("LINK_PROTOCOL");
  });
});
