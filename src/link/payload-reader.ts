// A bounds-checked reader over one frame payload. Reading past the end never throws and never
// touches bytes outside the payload: it marks the reader failed and returns zeroes, so a decoder
// can read a whole layout and check `failed` once at the end. Pure: no I/O.

export class PayloadReader {
  private offset = 0;
  failed = false;

  constructor(private readonly payload: Buffer) {}

  get remaining(): number {
    return this.payload.length - this.offset;
  }

  /** Claims `count` bytes and returns their offset, or undefined (and fails) when absent. */
  private claim(count: number): number | undefined {
    if (this.failed || count > this.remaining) {
      this.failed = true;
      return undefined;
    }
    const start = this.offset;
    this.offset += count;
    return start;
  }

  u8(): number {
    const at = this.claim(1);
    return at === undefined ? 0 : this.payload.readUInt8(at);
  }

  u16(): number {
    const at = this.claim(2);
    return at === undefined ? 0 : this.payload.readUInt16BE(at);
  }

  u32(): number {
    const at = this.claim(4);
    return at === undefined ? 0 : this.payload.readUInt32BE(at);
  }

  u64(): bigint {
    const at = this.claim(8);
    return at === undefined ? 0n : this.payload.readBigUInt64BE(at);
  }

  /** A view of the next `count` bytes (empty when they are not there). */
  bytes(count: number): Buffer {
    const at = this.claim(count);
    return at === undefined ? Buffer.alloc(0) : this.payload.subarray(at, at + count);
  }

  u8Array(count: number): Uint8Array {
    return new Uint8Array(this.bytes(count));
  }

  /** `count` bytes as Latin-1 text; the codec checks the characters against their pattern. */
  ascii(count: number): string {
    return this.bytes(count).toString("latin1");
  }
}
