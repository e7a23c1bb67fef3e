import { describe, expect, it } from "vitest";
import { ControlOp } from "../link/frame-types.js";
import { codeOf } from "../testing/error-code.js";
import { decodeChecksums, encodeChecksums, parseControl } from "./control-body.js";

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
      parseControl(ControlOp.CHECKSUMS, '{"job":"J000002","volser":"V","firstTrack":3,"count":9}'),
    ).toMatchObject({ op: "CHECKSUMS", body: { firstTrack: 3, count: 9 } });
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
    expect(
      code(ControlOp.CHECKSUMS, '{"job":"J000001","volser":"V","firstTrack":0,"count":40000}'),
    ).toBe("REQUEST_INVALID");
    expect(
      code(ControlOp.CHECKSUMS, '{"job":"J000001","volser":"V","firstTrack":-1,"count":1}'),
    ).toBe("REQUEST_INVALID");
  });

  it("carries checksums in base64 and refuses a list of the wrong length", () => {
    const sums = [0n, 1n, 0xffff_ffff_ffff_ffffn, 1234567890123456789n];
    expect(decodeChecksums(encodeChecksums(sums), 4)).toEqual(sums);
    expect(codeOf(() => decodeChecksums(encodeChecksums(sums), 5))).toBe("LINK_PROTOCOL");
  });
});
