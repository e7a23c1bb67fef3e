// Builds one frame payload from fields, big-endian. The fields are ours and were checked, so a
// value out of range is a programmer error (an assertion). Pure: no I/O.

import assert from "node:assert/strict";

export class PayloadWriter {
  private readonly parts: Buffer[] = [];

  u8(value: number): void {
    const part = Buffer.allocUnsafe(1);
    part.writeUInt8(value, 0);
    this.parts.push(part);
  }

  u16(value: number): void {
    const part = Buffer.allocUnsafe(2);
    part.writeUInt16BE(value, 0);
    this.parts.push(part);
  }

  u32(value: number): void {
    const part = Buffer.allocUnsafe(4);
    part.writeUInt32BE(value, 0);
    this.parts.push(part);
  }

  u64(value: bigint): void {
    const part = Buffer.allocUnsafe(8);
    part.writeBigUInt64BE(value, 0);
    this.parts.push(part);
  }

  bytes(value: Buffer): void {
    this.parts.push(value);
  }

  /** A length byte and ASCII text of at most `maxBytes`. */
  shortAscii(value: string, maxBytes: number): void {
    const text = Buffer.from(value, "latin1");
    assert.ok(text.length <= maxBytes, `"${value}" fits in ${maxBytes} bytes`);
    this.u8(text.length);
    this.bytes(text);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}
