// The record header in front of each chunk image in a segment file. Pure codec.
//
//   offset  size  field
//   0       4     magic "GSCK" (0x4b435347 little-endian)
//   4       2     format version (1)
//   6       2     flags (0)
//   8       8     chunk id (unsigned, little-endian)
//   16      4     image length in bytes
//   20      4     reserved (0)
//   24      8     xxHash64 of the image
//   32      ...   the image
//
// Headers make a segment self-describing: the collector scans them to find live chunks, and the
// checker compares them with the catalog.

import { GsnapError } from "../errors/gsnap-error.js";
import { CHUNK_HEADER_BYTES, type ScannedChunk } from "./chunk-device.js";

const MAGIC = 0x4b435347;
const VERSION = 1;

export interface ChunkHeader {
  readonly id: number;
  readonly lengthBytes: number;
  readonly hash: bigint;
}

export function encodeChunkHeader(
  header: ChunkHeader,
  into: Buffer = Buffer.alloc(CHUNK_HEADER_BYTES),
): Buffer {
  const buffer = into.subarray(0, CHUNK_HEADER_BYTES);
  buffer.fill(0);
  buffer.writeUInt32LE(MAGIC, 0);
  buffer.writeUInt16LE(VERSION, 4);
  buffer.writeBigUInt64LE(BigInt(header.id), 8);
  buffer.writeUInt32LE(header.lengthBytes, 16);
  buffer.writeBigUInt64LE(header.hash, 24);
  return buffer;
}

/** Decodes a header; `where` names the position in messages. */
export function decodeChunkHeader(buffer: Buffer, where: string): ChunkHeader {
  if (buffer.length < CHUNK_HEADER_BYTES || buffer.readUInt32LE(0) !== MAGIC) {
    throw new GsnapError("STORE_FORMAT", `Cannot read chunk record at ${where}: no record header`);
  }
  if (buffer.readUInt16LE(4) !== VERSION) {
    throw new GsnapError(
      "STORE_FORMAT",
      `Cannot read chunk record at ${where}: format version ${buffer.readUInt16LE(4)} is unknown`,
    );
  }
  return {
    id: Number(buffer.readBigUInt64LE(8)),
    lengthBytes: buffer.readUInt32LE(16),
    hash: buffer.readBigUInt64LE(24),
  };
}

/**
 * Walks the records of a segment of `sizeBytes` from `window.fromOffsetBytes`: at least one, then
 * more while they start within `window.maxBytes`. `readHeader` fills a header buffer from an
 * offset (a file read, or the block cache of a remote segment).
 */
export function scanRecords(
  segment: number,
  sizeBytes: number,
  window: { fromOffsetBytes: number; maxBytes: number },
  readHeader: (offsetBytes: number, into: Buffer) => void,
): ScannedChunk[] {
  const found: ScannedChunk[] = [];
  const header = Buffer.alloc(CHUNK_HEADER_BYTES);
  let offset = window.fromOffsetBytes;
  while (
    offset < sizeBytes &&
    (found.length === 0 || offset - window.fromOffsetBytes < window.maxBytes)
  ) {
    readHeader(offset, header);
    const decoded = decodeChunkHeader(header, `segment ${segment} offset ${offset}`);
    const location = {
      segment,
      offsetBytes: offset + CHUNK_HEADER_BYTES,
      lengthBytes: decoded.lengthBytes,
    };
    found.push({ id: decoded.id, hash: decoded.hash, location });
    offset += CHUNK_HEADER_BYTES + decoded.lengthBytes;
  }
  return found;
}
