// The codec of TRACK_PIECE (protocol version 3): part of one track, its bytes or a range to zero.
// frame-codec.ts calls these; the layout is drawn there and in docs/link-protocol.md. Pure: no
// I/O.
//
//   u8 len, volser, u32 track number, u32 offset within the track, u32 length, u8 kind
//   (0 data, 1 zero), u64 checksum (xxHash64 of the data; 0 for a zero piece), data (data: the
//   rest, exactly `length` bytes; zero: none)

import { MAX_TRACK_SIZE_BYTES } from "../geometry/geometry.js";
import { isVolser } from "../geometry/names.js";
import { MAX_VOLSER_BYTES, PieceKind, type TrackPieceFrame } from "./frame-types.js";
import type { PayloadReader } from "./payload-reader.js";
import type { PayloadWriter } from "./payload-writer.js";

/** A TRACK_PIECE, or why its kind byte is not one we know (the frame is refused). */
export function readTrackPiece(
  requestId: number,
  reader: PayloadReader,
): TrackPieceFrame | { readonly problem: string } {
  const volser = reader.ascii(reader.u8());
  const trackNumber = reader.u32();
  const offsetBytes = reader.u32();
  const lengthBytes = reader.u32();
  const kind = reader.u8();
  const checksum = reader.u64();
  const rest = reader.bytes(reader.remaining);
  if (!reader.failed && kind !== PieceKind.DATA && kind !== PieceKind.ZERO) {
    return { problem: `piece kind ${kind} is unknown` };
  }
  if (kind === PieceKind.ZERO && rest.length > 0) {
    return { problem: `a zero piece carries ${rest.length} bytes of data` };
  }
  const data = kind === PieceKind.DATA ? rest : undefined;
  return {
    type: "TRACK_PIECE",
    requestId,
    volser,
    trackNumber,
    offsetBytes,
    lengthBytes,
    checksum,
    data,
  };
}

/** Why a piece's fields are out of range, or undefined when they are fine. */
export function checkTrackPiece(frame: TrackPieceFrame): string | undefined {
  if (!isVolser(frame.volser)) return `VOLSER "${frame.volser}" is not valid`;
  if (frame.lengthBytes === 0 || frame.lengthBytes > MAX_TRACK_SIZE_BYTES) {
    return `piece length ${frame.lengthBytes} is not 1-${MAX_TRACK_SIZE_BYTES}`;
  }
  if (frame.offsetBytes + frame.lengthBytes > MAX_TRACK_SIZE_BYTES) {
    return (
      `piece of ${frame.lengthBytes} bytes at offset ${frame.offsetBytes} ends past ` +
      `${MAX_TRACK_SIZE_BYTES}`
    );
  }
  if (frame.data === undefined) {
    return frame.checksum === 0n ? undefined : "a zero piece has a checksum that is not 0";
  }
  if (frame.data.length !== frame.lengthBytes) {
    return `piece data of ${frame.data.length} bytes is not its length ${frame.lengthBytes}`;
  }
  return undefined;
}

/** The piece's fields, without its data (which goes to the socket as it is). */
export function writeTrackPieceFields(frame: TrackPieceFrame, writer: PayloadWriter): void {
  writer.shortAscii(frame.volser, MAX_VOLSER_BYTES);
  writer.u32(frame.trackNumber);
  writer.u32(frame.offsetBytes);
  writer.u32(frame.lengthBytes);
  writer.u8(frame.data === undefined ? PieceKind.ZERO : PieceKind.DATA);
  writer.u64(frame.checksum);
}
