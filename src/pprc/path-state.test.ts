import { describe, expect, it } from "vitest";
import { GsnapError } from "../errors/gsnap-error.js";
import { backoffMs, linkReason, pathState } from "./path-state.js";

describe("path state", () => {
  it("is established when every link is established", () => {
    expect(pathState([{ state: "established" }, { state: "established" }])).toBe("established");
  });

  it("is degraded when some links are established and some failed", () => {
    expect(pathState([{ state: "established" }, { state: "failed" }])).toBe("degraded");
  });

  it("is failed when no link is established", () => {
    expect(pathState([{ state: "failed" }, { state: "failed" }])).toBe("failed");
    expect(pathState([])).toBe("failed");
  });
});

describe("link reason", () => {
  const down = (causeCode: string) =>
    new GsnapError("LINK_DOWN", "Cannot connect link", { cause: { code: causeCode } });

  it("names socket failures from the cause's code", () => {
    expect(linkReason(down("ECONNREFUSED"))).toBe("refused");
    expect(linkReason(down("ETIMEDOUT"))).toBe("timed out");
    expect(linkReason(down("EHOSTUNREACH"))).toBe("unreachable");
    expect(linkReason(down("ENOTFOUND"))).toBe("unknown host");
  });

  it("names handshake refusals from the link error codes", () => {
    expect(linkReason(new GsnapError("LINK_AUTH_FAILED", "x"))).toBe("authentication failed");
    expect(linkReason(new GsnapError("LINK_WRONG_SERIAL", "x"))).toBe("wrong serial");
    expect(linkReason(new GsnapError("LINK_VERSION", "x"))).toBe("version");
    expect(linkReason(new GsnapError("LINK_PROTOCOL", "x"))).toBe("protocol");
    expect(linkReason(new GsnapError("LINK_DOWN", "x"))).toBe("down");
  });

  it("calls anything else down", () => {
    expect(linkReason(new Error("odd"))).toBe("down");
    expect(linkReason(undefined)).toBe("down");
  });
});

describe("backoff", () => {
  it("doubles from the minimum at each failure and stops at the maximum", () => {
    const waits = [1, 2, 3, 4, 5, 6].map((failures) =>
      backoffMs({ failures, minMs: 500, maxMs: 10_000 }),
    );
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 10_000]);
    expect(backoffMs({ failures: 10_000, minMs: 500, maxMs: 10_000 })).toBe(10_000);
  });
});
