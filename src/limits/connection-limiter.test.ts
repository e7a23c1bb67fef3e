import { describe, expect, it } from "vitest";
import { ConnectionLimiter } from "./connection-limiter.js";
import { connectionBudget, openFilesSoftLimit } from "./descriptor-budget.js";

function limiter(maxTotal = Number.POSITIVE_INFINITY): ConnectionLimiter {
  return new ConnectionLimiter({
    listeners: {
      nbd: { maxConnections: 3, maxPerAddress: 2 },
      api: { maxConnections: 10, maxPerAddress: 10 },
    },
    maxTotal,
  });
}

describe("connection limiter", () => {
  it("refuses an address past its share while other addresses still get in", () => {
    const limits = limiter();
    expect(limits.admit("nbd", "10.0.0.1").ok).toBe(true);
    expect(limits.admit("nbd", "10.0.0.1").ok).toBe(true);
    const third = limits.admit("nbd", "10.0.0.1");
    expect(third.ok ? undefined : third.reason).toBe("per_address");
    expect(third.ok ? "" : third.message).toContain("10.0.0.1 holds 2 nbd connections");
    expect(limits.admit("nbd", "10.0.0.2").ok).toBe(true);
    expect(limits.count("nbd", "10.0.0.1")).toBe(2);
  });

  it("refuses everyone once the listener is full, and admits again after a release", () => {
    const limits = limiter();
    const held = [limits.admit("nbd", "a"), limits.admit("nbd", "b"), limits.admit("nbd", "c")];
    const refused = limits.admit("nbd", "d");
    expect(refused.ok ? undefined : refused.reason).toBe("total");
    // Another listener has slots of its own.
    expect(limits.admit("api", "d").ok).toBe(true);
    const first = held[0];
    if (!first.ok) throw new Error("admitted");
    first.release();
    first.release(); // a second release of the same slot changes nothing
    expect(limits.count("nbd")).toBe(2);
    expect(limits.admit("nbd", "d").ok).toBe(true);
    expect(limits.admit("nbd", "e").ok).toBe(false);
  });

  it("refuses on every listener once the process-wide descriptor budget is used", () => {
    const limits = limiter(2);
    expect(limits.admit("nbd", "a").ok).toBe(true);
    expect(limits.admit("api", "a").ok).toBe(true);
    const refused = limits.admit("api", "b");
    expect(refused.ok ? undefined : refused.reason).toBe("descriptors");
    expect(limits.count()).toBe(2);
  });
});

describe("descriptor budget", () => {
  it("reads the soft open-files limit from /proc/self/limits text", () => {
    const text = [
      "Limit                     Soft Limit           Hard Limit           Units",
      "Max open files            1024                 524288               files",
    ].join("\n");
    expect(openFilesSoftLimit(text)).toBe(1024);
    expect(openFilesSoftLimit(text.replace("1024 ", "unlimited "))).toBeUndefined();
    expect(openFilesSoftLimit("nothing here")).toBeUndefined();
  });

  it("leaves the reserve and the descriptors already open, never below zero", () => {
    expect(connectionBudget({ softLimit: 1024, openNow: 40, reserve: 256 })).toBe(728);
    expect(connectionBudget({ softLimit: 200, openNow: 40, reserve: 256 })).toBe(0);
  });
});
