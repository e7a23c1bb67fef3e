import { describe, expect, it } from "vitest";
import { MAX_PSK_IDENTITY_BYTES, parsePskKeys } from "./psk-keys.js";

const KEY = "0123456789abcdef".repeat(4);

describe("psk keys", () => {
  it("reads psktool's IDENTITY:HEXKEY lines, blank lines and CRLF included", () => {
    const parsed = parsePskKeys(`alice:${KEY}\r\n\nbob:${KEY.toUpperCase()}\n`);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect([...parsed.value.keys()]).toEqual(["alice", "bob"]);
    expect(parsed.value.get("alice")).toEqual(Buffer.from(KEY, "hex"));
    expect(parsed.value.get("bob")?.length).toBe(32);
  });

  it("refuses lines that are not IDENTITY:HEXKEY, naming the line", () => {
    const cases: [string, RegExp][] = [
      ["", /no IDENTITY:HEXKEY/],
      [`${KEY}\n`, /line 1 is not IDENTITY:HEXKEY/],
      [`alice:${KEY}\n:${KEY}\n`, /line 2 is not/],
      ["alice:0g\n", /line 1: the key of "alice" is not an even number of hex digits/],
      ["alice:abc\n", /not an even number/],
      ["alice:\n", /not an even number/],
      [`a:b:${KEY}\n`, /the key of "a"/],
      [`alice:${KEY}\nalice:${KEY}\n`, /line 2: "alice" has a key already/],
      [`${"x".repeat(MAX_PSK_IDENTITY_BYTES + 1)}:${KEY}\n`, /identity is over 128 bytes/],
      [`alice:${"00".repeat(513)}\n`, /over 512 bytes/],
    ];
    for (const [text, reason] of cases) {
      const parsed = parsePskKeys(text);
      expect(parsed.ok ? "accepted" : parsed.reason).toMatch(reason);
    }
  });
});
