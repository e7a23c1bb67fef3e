// What a sync pair's primary sends for one host write, and how (DESIGN.md §2, docs/pairs.md). To
// a secondary whose link speaks protocol version 3 it sends pieces: the host's own bytes (or the
// range it zeroed) of each track the write touches, each with the checksum of those bytes alone,
// which the secondary applies as the same small write (like DRBD, which ships a bio's bytes with a
// digest of them). To an older secondary it sends whole track images (TRACK_DATA, TRACK_ZERO), which
// the primary reads and patches first. It also asks the secondary to make what it stored durable
// (CONTROL FLUSH), which a host FLUSH on the primary needs.

import { GsnapError } from "../errors/gsnap-error.js";
import { ControlOp, type TrackPieceFrame } from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";
import { trackChecksum } from "../link/track-checksum.js";
import type { Store } from "../store/store.js";
import { isZeroImage } from "../store/zero-image.js";
import type { OutgoingTrack, TrackRange } from "./track-feed.js";
import { sendPiece, sendTrack, trackRefusal } from "./track-requests.js";

/** Part of a track: the fields of a TRACK_PIECE. */
export type TrackPiece = Omit<TrackPieceFrame, "requestId" | "type">;

/** What goes to the secondary for one track of a sync write. */
export type MirrorItem =
  | { readonly kind: "piece"; readonly piece: TrackPiece }
  | {
      readonly kind: "image";
      readonly trackNumber: number;
      /** Undefined: the track is all zeroes and goes as a zero record. */
      readonly data: Buffer | undefined;
    };

/**
 * The pieces of a host write (data) or zero (no data) of `lengthBytes` at `offsetBytes` of the
 * volume, one per track of `range`, for the secondary volume `targetVolser`: views of the host's
 * bytes, each hashed on its own. Nothing is read from the store.
 */
export function piecesOf(options: {
  targetVolser: string;
  range: TrackRange;
  offsetBytes: number;
  lengthBytes: number;
  data: Buffer | undefined;
  trackSizeBytes: number;
}): MirrorItem[] {
  const { targetVolser, range, offsetBytes, lengthBytes, data, trackSizeBytes } = options;
  const items: MirrorItem[] = [];
  for (const { track, trackStart, from, to } of spans(
    range,
    offsetBytes,
    lengthBytes,
    trackSizeBytes,
  )) {
    const bytes = data?.subarray(from - offsetBytes, to - offsetBytes);
    items.push({
      kind: "piece",
      piece: {
        volser: targetVolser,
        trackNumber: track,
        offsetBytes: from - trackStart,
        lengthBytes: to - from,
        checksum: bytes === undefined ? 0n : trackChecksum(bytes),
        data: bytes,
      },
    });
  }
  return items;
}

/**
 * The whole images of the tracks a change covers, as they are once it has landed, read from the
 * primary's store and patched: for a secondary whose link has no TRACK_PIECE (version 1 or 2).
 * Tracks the change covers whole are views of `data`; all-zero tracks go as zero records.
 */
export async function imagesAfter(options: {
  store: Store;
  volser: string;
  range: TrackRange;
  offsetBytes: number;
  lengthBytes: number;
  data: Buffer | undefined;
  trackSizeBytes: number;
}): Promise<MirrorItem[]> {
  const { store, volser, range, offsetBytes, lengthBytes, data } = options;
  const size = options.trackSizeBytes;
  const images: MirrorItem[] = [];
  for (const { track, trackStart, from, to } of spans(range, offsetBytes, lengthBytes, size)) {
    let image: Buffer | undefined;
    if (from === trackStart && to === trackStart + size) {
      image = data?.subarray(from - offsetBytes, to - offsetBytes);
    } else {
      image = await store.read(volser, { offsetBytes: trackStart, lengthBytes: size });
      if (data === undefined) image.fill(0, from - trackStart, to - trackStart);
      else data.copy(image, from - trackStart, from - offsetBytes, to - offsetBytes);
    }
    const zero = image === undefined || isZeroImage(image);
    images.push({ kind: "image", trackNumber: track, data: zero ? undefined : image });
  }
  return images;
}

/** Each track of `range` with the volume byte range [from, to) of the change that falls in it. */
function* spans(
  range: TrackRange,
  offsetBytes: number,
  lengthBytes: number,
  trackSizeBytes: number,
): Generator<{ track: number; trackStart: number; from: number; to: number }> {
  for (let track = range.firstTrack; track < range.firstTrack + range.count; track += 1) {
    const trackStart = track * trackSizeBytes;
    const from = Math.max(offsetBytes, trackStart);
    const to = Math.min(offsetBytes + lengthBytes, trackStart + trackSizeBytes);
    yield { track, trackStart, from, to };
  }
}

/** The bytes an item carries, for the pair's rate meter. */
export function itemBytes(item: MirrorItem): number {
  return item.kind === "piece" ? (item.piece.data?.length ?? 0) : (item.data?.length ?? 0);
}

/** Sends one item of a sync write; a refusal is the sender's typed error. */
export async function sendMirrorItem(
  connection: LinkConnection,
  copy: { source: string; target: string },
  item: MirrorItem,
): Promise<void> {
  if (item.kind === "piece") {
    const sent = await sendPiece(connection, item.piece);
    if (sent.reply.type !== "ACK") throw trackRefusal({ ...copy, track: item.piece }, sent);
    return;
  }
  const track: OutgoingTrack =
    item.data === undefined
      ? { kind: "zero", trackNumber: item.trackNumber }
      : {
          kind: "data",
          trackNumber: item.trackNumber,
          data: item.data,
          checksum: trackChecksum(item.data),
        };
  const sent = await sendTrack(connection, copy.target, track);
  if (sent.reply.type !== "ACK") throw trackRefusal({ ...copy, track }, sent);
}

/**
 * Asks the secondary's system to make every write it stored durable (CONTROL FLUSH, answered by
 * the GSC target or, where there is none, by the pairs). Rejects when it answers anything but
 * `{"ok": true}`.
 */
export async function flushAtSecondary(
  connection: LinkConnection,
  what: { volser: string; secondary: string },
): Promise<void> {
  const reply = await connection.request({ type: "CONTROL", op: ControlOp.FLUSH, body: "{}" });
  let ok = false;
  let message = `answered ${reply.type}`;
  if (reply.type === "RESULT") {
    const body = JSON.parse(reply.body) as { ok?: unknown; message?: unknown };
    ok = body.ok === true;
    message = typeof body.message === "string" ? body.message : "answered not ok";
  }
  if (!ok) {
    throw new GsnapError(
      "IO_ERROR",
      `Cannot make the writes of ${what.volser} durable at its secondary ${what.secondary}: ${message}`,
    );
  }
}
