// The codec of TRACK_BATCH and BATCH_NACK (protocol version 2): reading a batch's table and data,
// the rules a batch and its refusals must keep, and a batch's encoding as a header-and-table
// buffer followed by each track's bytes as they are. With BLOCK_SUMS (version 4) the table is
// followed by the xxHash32 of the block checksums and the block checksums of each data track.
// frame-codec.ts calls these; the layouts are drawn there and in docs/link-protocol.md. Pure.

import { MAX_TRACK_SIZE_BYTES } from "../geometry/geometry.js";
import {
  BATCH_ENTRY_BYTES,
  BatchFlag,
  type BatchNackFrame,
  type BatchTrack,
  BLOCK_SUM_BYTES,
  FRAME_FORMAT,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  type Frame,
  FrameType,
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_TRACKS,
  SUM_BLOCK_BYTES,
  type TrackBatchFrame,
} from "./frame-types.js";
import type { PayloadReader } from "./payload-reader.js";
import type { PayloadWriter } from "./payload-writer.js";
import { sumsChecksum } from "./track-checksum.js";

/** Bytes of the block checksums of a track of `lengthBytes` (its last block may be short). */
export function blockSumsBytes(lengthBytes: number): number {
  return Math.ceil(lengthBytes / SUM_BLOCK_BYTES) * BLOCK_SUM_BYTES;
}

/**
 * The table first, then (with BLOCK_SUMS) the block checksums' xxHash32 and the block checksums,
 * then the data of each entry that has some, as views of the payload.
 */
export function readTrackBatch(requestId: number, reader: PayloadReader, flags: number): Frame {
  const volser = reader.ascii(reader.u8());
  const count = reader.u16();
  const entries: { trackNumber: number; lengthBytes: number; checksum: bigint }[] = [];
  for (let i = 0; i < count && !reader.failed; i += 1) {
    entries.push({ trackNumber: reader.u32(), lengthBytes: reader.u32(), checksum: reader.u64() });
  }
  let sums: Buffer | undefined;
  let sumsDamaged = false;
  if ((flags & BatchFlag.BLOCK_SUMS) !== 0 && !reader.failed) {
    const expected = reader.u32();
    // A length past the payload fails the reader before anything is hashed.
    const total = entries.reduce((sum, entry) => sum + blockSumsBytes(entry.lengthBytes), 0);
    sums = reader.bytes(total);
    sumsDamaged = !reader.failed && sumsChecksum(sums) !== expected;
  }
  const tracks: BatchTrack[] = [];
  let sumsAt = 0;
  for (const entry of entries) {
    if (reader.failed) break;
    const data = entry.lengthBytes === 0 ? undefined : reader.bytes(entry.lengthBytes);
    const { trackNumber, checksum } = entry;
    if (sums === undefined || data === undefined) {
      tracks.push({ trackNumber, checksum, data });
      continue;
    }
    const sumsBytes = blockSumsBytes(entry.lengthBytes);
    tracks.push({
      trackNumber,
      checksum,
      data,
      blockSums: sums.subarray(sumsAt, sumsAt + sumsBytes),
    });
    sumsAt += sumsBytes;
  }
  const frame: TrackBatchFrame = { type: "TRACK_BATCH", requestId, volser, tracks };
  return sumsDamaged ? { ...frame, sumsDamaged } : frame;
}

/** Whether the batch carries block checksums: its first data track says for all. */
export function carriesSums(tracks: readonly BatchTrack[]): boolean {
  return tracks.find((track) => track.data !== undefined)?.blockSums !== undefined;
}

/** Why a batch's tracks break its rules (docs/link-protocol.md), or undefined. */
export function checkBatchTracks(tracks: readonly BatchTrack[]): string | undefined {
  if (tracks.length === 0 || tracks.length > MAX_BATCH_TRACKS) {
    return `a batch of ${tracks.length} tracks is not 1-${MAX_BATCH_TRACKS}`;
  }
  let dataBytes = 0;
  let previous = -1;
  const withSums = carriesSums(tracks);
  for (const track of tracks) {
    if (track.trackNumber <= previous) {
      return `track ${track.trackNumber} follows track ${previous}: tracks go in increasing order`;
    }
    previous = track.trackNumber;
    if (track.data === undefined) {
      if (track.checksum !== 0n) return `zero record of track ${track.trackNumber} has a checksum`;
      if (track.blockSums !== undefined) {
        return `zero record of track ${track.trackNumber} has block checksums`;
      }
      continue;
    }
    const sumsBytes = track.blockSums?.length;
    if (withSums ? sumsBytes !== blockSumsBytes(track.data.length) : sumsBytes !== undefined) {
      return `track ${track.trackNumber} has ${sumsBytes ?? "no"} bytes of block checksums, not ${withSums ? blockSumsBytes(track.data.length) : "none"} like the batch's first data track`;
    }
    if (track.data.length > MAX_TRACK_SIZE_BYTES) {
      return `track data of ${track.data.length} bytes exceeds ${MAX_TRACK_SIZE_BYTES}`;
    }
    dataBytes += track.data.length;
  }
  if (dataBytes > MAX_BATCH_DATA_BYTES) {
    return `batch data of ${dataBytes} bytes exceeds ${MAX_BATCH_DATA_BYTES}`;
  }
  return undefined;
}

export function checkBatchRefusals(refusals: readonly { index: number }[]): string | undefined {
  if (refusals.length === 0 || refusals.length > MAX_BATCH_TRACKS) {
    return `${refusals.length} refusals is not 1-${MAX_BATCH_TRACKS}`;
  }
  let previous = -1;
  for (const { index } of refusals) {
    if (index <= previous || index >= MAX_BATCH_TRACKS) {
      return `refusal index ${index} is out of order or past ${MAX_BATCH_TRACKS - 1}`;
    }
    previous = index;
  }
  return undefined;
}

/**
 * A TRACK_BATCH as its header, table and block checksums (where it carries them) in one buffer,
 * then each track's bytes as they are.
 */
export function encodeBatchParts(frame: TrackBatchFrame): Buffer[] {
  const volser = Buffer.from(frame.volser, "latin1");
  const headBytes = FRAME_HEADER_BYTES + 1 + volser.length + 2;
  const tableEnd = headBytes + frame.tracks.length * BATCH_ENTRY_BYTES;
  const withSums = carriesSums(frame.tracks);
  const sumsBytes = withSums
    ? frame.tracks.reduce((sum, track) => sum + (track.blockSums?.length ?? 0), 0)
    : 0;
  const head = Buffer.allocUnsafe(tableEnd + (withSums ? 4 + sumsBytes : 0));
  const parts: Buffer[] = [head];
  let payloadBytes = head.length - FRAME_HEADER_BYTES;
  let at = headBytes;
  let sumsAt = tableEnd + 4;
  for (const track of frame.tracks) {
    const lengthBytes = track.data?.length ?? 0;
    head.writeUInt32BE(track.trackNumber, at);
    head.writeUInt32BE(lengthBytes, at + 4);
    head.writeBigUInt64BE(track.checksum, at + 8);
    at += BATCH_ENTRY_BYTES;
    if (track.data !== undefined) parts.push(track.data);
    if (withSums && track.blockSums !== undefined) {
      sumsAt += track.blockSums.copy(head, sumsAt);
    }
    payloadBytes += lengthBytes;
  }
  if (withSums) {
    const sums = head.subarray(tableEnd + 4);
    head.writeUInt32BE(sumsChecksum(sums), tableEnd);
  }
  head.writeUInt32BE(FRAME_MAGIC, 0);
  head.writeUInt8(FRAME_FORMAT, 4);
  head.writeUInt8(FrameType.TRACK_BATCH, 5);
  head.writeUInt16BE(withSums ? BatchFlag.BLOCK_SUMS : 0, 6);
  head.writeUInt32BE(frame.requestId, 8);
  head.writeUInt32BE(payloadBytes, 12);
  head.writeUInt8(volser.length, FRAME_HEADER_BYTES);
  volser.copy(head, FRAME_HEADER_BYTES + 1);
  head.writeUInt16BE(frame.tracks.length, headBytes - 2);
  return parts;
}

export function readBatchNack(requestId: number, reader: PayloadReader): Frame {
  const count = reader.u16();
  const refusals: { index: number; reason: number }[] = [];
  for (let i = 0; i < count && !reader.failed; i += 1) {
    refusals.push({ index: reader.u16(), reason: reader.u16() });
  }
  return { type: "BATCH_NACK", requestId, refusals };
}

export function writeBatchNack(frame: BatchNackFrame, writer: PayloadWriter): void {
  writer.u16(frame.refusals.length);
  for (const refusal of frame.refusals) {
    writer.u16(refusal.index);
    writer.u16(refusal.reason);
  }
}
