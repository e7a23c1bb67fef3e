import { describe, expect, it } from "vitest";
import { PayloadReader } from "./payload-reader.js";

describe("payload reader", () => {
  it("reads big-endian fields in order", () => {
    const reader = new PayloadReader(Buffer.from("01000200000003000000000000000461", "hex"));
    expect([reader.u8(), reader.u16(), reader.u32(), reader.u64(), reader.ascii(1)]).toEqual([
      1,
      2,
      3,
      4n,
      "a",
    ]);
    expect(reader.remaining).toBe(0);
    expect(reader.failed).toBe(false);
  });

  it("fails without throwing or reading past the end, and stays failed", () => {
    const payload = Buffer.from([1, 2, 3, 4]).subarray(0, 2);
    const reader = new PayloadReader(payload);
    expect(reader.u32()).toBe(0);
    expect(reader.failed).toBe(true);
    expect(reader.u8()).toBe(0);
    expect(reader.bytes(1).length).toBe(0);
    expect(reader.remaining).toBe(2);
  });
});
