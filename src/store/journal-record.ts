// The journal's record codec: one record per piece of a track that a host wrote or zeroed, as it
// sits in a journal file (docs/store-format.md, "Journal"). Pure.
//
// ```
// offset  size  field
// 0       4     magic "GSJR" (0x524a5347 LE)
// 4       2     format version, 1
// 6       2     kind: 1 write (data follows), 2 zero (no data)
// 8       8     sequence number             u64 LE, one more than the record before it
// 16      8     VOLSER                      ASCII, NUL padded
// 24      4     volume incarnation          u32 LE
// 28      4     track                       u32 LE
// 32      4     offset in the track         u32 LE
// 36      4     length                      u32 LE: bytes written or zeroed
// 40      8     xxHash64 of the data        u64 LE (0 for a zero record)
// 48      8     reserved, zero
// 56      8     xxHash64 of bytes 0-55      u64 LE
// 64      n     data (a write record: `length` bytes)
// ```

import { xxh64 } from "@node-rs/xxhash";

export const RECORD_HEADER_BYTES = 64;
const MAGIC = 0x524a5347;
const VERSION = 1;
const VOLSER_BYTES = 8;

export type RecordKind = "write" | "zero";

/** What a record says, without its data. */
export interface RecordHeader {
  readonly kind: RecordKind;
  readonly seq: number;
  readonly volser: string;
  readonly incarnation: number;
  readonly track: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** xxHash64 of the data; 0n for a zero record. */
  readonly dataHash: bigint;
}

/** The bytes a record takes in its file. */
export function recordBytes(header: Pick<RecordHeader, "kind" | "lengthBytes">): number {
  return RECORD_HEADER_BYTES + (header.kind === "write" ? header.lengthBytes : 0);
}

export function dataHash(data: Buffer): bigint {
  return xxh64(data);
}

/** Writes a record's header into `target` (at least RECORD_HEADER_BYTES long). */
export function encodeHeader(header: RecordHeader, target: Buffer): void {
  target.fill(0, 0, RECORD_HEADER_BYTES);
  target.writeUInt32LE(MAGIC, 0);
  target.writeUInt16LE(VERSION, 4);
  target.writeUInt16LE(header.kind === "write" ? 1 : 2, 6);
  target.writeBigUInt64LE(BigInt(header.seq), 8);
  target.write(header.volser, 16, VOLSER_BYTES, "latin1");
  target.writeUInt32LE(header.incarnation, 24);
  target.writeUInt32LE(header.track, 28);
  target.writeUInt32LE(header.offsetBytes, 32);
  target.writeUInt32LE(header.lengthBytes, 36);
  target.writeBigUInt64LE(header.dataHash, 40);
  target.writeBigUInt64LE(xxh64(target.subarray(0, 56)), 56);
}

/**
 * Reads the header at the start of `source`; undefined when it is not a sound header (torn,
 * never written, or left over from an earlier use of the file).
 */
export function decodeHeader(source: Buffer): RecordHeader | undefined {
  if (source.length < RECORD_HEADER_BYTES || source.readUInt32LE(0) !== MAGIC) return undefined;
  if (source.readBigUInt64LE(56) !== xxh64(source.subarray(0, 56))) return undefined;
  const kindCode = source.readUInt16LE(6);
  if (source.readUInt16LE(4) !== VERSION || (kindCode !== 1 && kindCode !== 2)) return undefined;
  const seq = source.readBigUInt64LE(8);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const volserEnd = source.indexOf(0, 16);
  const volser = source.toString("latin1", 16, volserEnd === -1 || volserEnd > 24 ? 24 : volserEnd);
  return {
    kind: kindCode === 1 ? "write" : "zero",
    seq: Number(seq),
    volser,
    incarnation: source.readUInt32LE(24),
    track: source.readUInt32LE(28),
    offsetBytes: source.readUInt32LE(32),
    lengthBytes: source.readUInt32LE(36),
    dataHash: source.readBigUInt64LE(40),
  };
}
