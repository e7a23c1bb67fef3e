import { describe, expect, it } from "vitest";
import { codeOf } from "../testing/error-code.js";
import { checkEstablish, MAX_LINKS_PER_PATH, parseLinkAddress, parseRemote } from "./path-spec.js";

const SSIDS = ["01A0", "01A1"];

describe("path spec", () => {
  it("accepts a path from a local SSID to SERIAL.SSID through HOST:PORT links", () => {
    expect(
      checkEstablish(
        { ssid: "01a0", to: "0000000002.01b0", links: ["10.0.0.2:8481", " [::1]:8481 "] },
        SSIDS,
      ),
    ).toEqual({
      ssid: "01A0",
      remoteSerial: "0000000002",
      remoteSsid: "01B0",
      links: ["10.0.0.2:8481", "[::1]:8481"],
    });
  });

  it("refuses a local SSID this system does not have with SSID_INVALID", () => {
    const request = { ssid: "0999", to: "2.01B0", links: ["h:1"] };
    expect(codeOf(() => checkEstablish(request, SSIDS))).toBe("SSID_INVALID");
  });

  it("refuses a malformed remote with SERIAL_INVALID or SSID_INVALID", () => {
    expect(codeOf(() => parseRemote("0000000002"))).toBe("SERIAL_INVALID");
    expect(codeOf(() => parseRemote("bad.01B0"))).toBe("SERIAL_INVALID");
    expect(codeOf(() => parseRemote("0000000002.1B0"))).toBe("SSID_INVALID");
  });

  it("refuses no links, too many links, repeated links and bad addresses with LINK_ADDRESS_INVALID", () => {
    const many = Array.from({ length: MAX_LINKS_PER_PATH + 1 }, (_, i) => `h:${i + 1}`);
    for (const links of [[], many, ["h:1", "h:1"], ["h"], ["h:0"], ["h:65536"], [":1"]]) {
      const request = { ssid: "01A0", to: "2.01B0", links };
      expect(
        codeOf(() => checkEstablish(request, SSIDS)),
        JSON.stringify(links),
      ).toBe("LINK_ADDRESS_INVALID");
    }
    expect(parseLinkAddress("[::1]:8481")).toEqual({ host: "::1", port: 8481 });
  });
});
