import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  dataHash,
  decodeHeader,
  encodeHeader,
  RECORD_HEADER_BYTES,
  type RecordHeader,
  recordBytes,
} from "./journal-record.js";

const header = fc.record({
  kind: fc.constantFrom("write" as const, "zero" as const),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  volser: fc.stringMatching(/^[A-Z0-9#@$]{1,6}$/),
  incarnation: fc.nat(0xffff_ffff),
  track: fc.nat(0xffff_ffff),
  offsetBytes: fc.nat(0xffff_ffff),
  lengthBytes: fc.nat(0xffff_ffff),
  dataHash: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
});

describe("journal record headers", () => {
  it("decode to what was encoded", () => {
    fc.assert(
      fc.property(header, (record: RecordHeader) => {
        const bytes = Buffer.alloc(RECORD_HEADER_BYTES);
        encodeHeader(record, bytes);
        expect(decodeHeader(bytes)).toEqual(record);
      }),
    );
  });

  it("are refused when any byte of them changed (a torn or stale header)", () => {
    fc.assert(
      fc.property(
        header,
        fc.nat(RECORD_HEADER_BYTES - 1),
        fc.integer({ min: 1, max: 255 }),
        (record, at, flip) => {
          const bytes = Buffer.alloc(RECORD_HEADER_BYTES);
          encodeHeader(record, bytes);
          bytes[at] ^= flip;
          expect(decodeHeader(bytes)).toBeUndefined();
        },
      ),
    );
  });

  it("are refused when never written (zeros) or cut short", () => {
    expect(decodeHeader(Buffer.alloc(RECORD_HEADER_BYTES))).toBeUndefined();
    const bytes = Buffer.alloc(RECORD_HEADER_BYTES);
    encodeHeader(
      {
        kind: "zero",
        seq: 1,
        volser: "VOL001",
        incarnation: 1,
        track: 0,
        offsetBytes: 0,
        lengthBytes: 1,
        dataHash: 0n,
      },
      bytes,
    );
    expect(decodeHeader(bytes.subarray(0, RECORD_HEADER_BYTES - 1))).toBeUndefined();
  });

  it("count the data of a write record in its size, and none for a zero record", () => {
    expect(recordBytes({ kind: "write", lengthBytes: 4096 })).toBe(RECORD_HEADER_BYTES + 4096);
    expect(recordBytes({ kind: "zero", lengthBytes: 4096 })).toBe(RECORD_HEADER_BYTES);
    expect(dataHash(Buffer.from("a"))).not.toBe(dataHash(Buffer.from("b")));
  });
});
