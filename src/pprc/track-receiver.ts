// Takes the tracks a peer sends on one connection and stores them: the receiving half of the copy
// engine (DESIGN.md §2). TRACK_DATA becomes a write of the whole track, TRACK_ZERO a zero (which
// unmaps the track); each is answered ACK once stored, or NACK with a reason when refused or when
// the store fails. The connection has already checked each TRACK_DATA checksum and answered NACK
// (checksum mismatch) itself, so a damaged track never reaches the store. PING gets PONG, so this
// can serve a path's connection on its own.
//
// Requests are handled as they arrive, without waiting for the previous one to be stored: the
// store commits writes in the order they were asked for, and the connection's window bounds how
// many are pending. The same track may arrive twice on different connections (the sender moved it
// after a connection failed); both carry the same bytes, so their order does not matter.

import type { ErrorCode } from "../errors/codes.js";
import { isGsnapError } from "../errors/gsnap-error.js";
import {
  NackReason,
  type NackReasonCode,
  type TrackDataFrame,
  type TrackZeroFrame,
} from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";
import type { Store } from "../store/store.js";

export interface ReceiveTracksOptions {
  readonly store: Store;
  readonly connection: LinkConnection;
  /** Whether tracks for this volume may be stored here (it is the target of a pair); false: NACK. */
  readonly accept: (volser: string) => boolean;
}

export interface ReceiveResult {
  /** Tracks written with data. */
  readonly tracksStored: number;
  /** Tracks zeroed. */
  readonly zeroTracks: number;
  /** Requests answered NACK. */
  readonly refused: number;
}

interface VolumeShape {
  readonly trackCount: number;
  readonly trackSizeBytes: number;
}

/** Serves the connection until it closes; resolves with what was stored. */
export async function receiveTracks(options: ReceiveTracksOptions): Promise<ReceiveResult> {
  const { connection } = options;
  const totals = { tracksStored: 0, zeroTracks: 0, refused: 0 };
  // A volume's geometry never changes while it exists, and asking the store for it on every
  // track would walk its mapping tree each time; a deleted volume still fails in the store.
  const shapes = new Map<string, VolumeShape>();
  const pending = new Set<Promise<void>>();
  for await (const frame of connection) {
    if (frame.type === "PING") {
      connection.send({ type: "PONG", requestId: frame.requestId });
      continue;
    }
    const handled = storeTrack(options, frame, shapes).then((outcome) => {
      if (outcome === "stored") {
        if (frame.type === "TRACK_DATA") totals.tracksStored += 1;
        else totals.zeroTracks += 1;
        connection.send({ type: "ACK", requestId: frame.requestId });
      } else {
        totals.refused += 1;
        connection.send({ type: "NACK", requestId: frame.requestId, reason: outcome });
      }
    });
    pending.add(handled);
    void handled.finally(() => pending.delete(handled));
  }
  await Promise.all(pending);
  return totals;
}

async function storeTrack(
  options: ReceiveTracksOptions,
  frame: TrackDataFrame | TrackZeroFrame,
  shapes: Map<string, VolumeShape>,
): Promise<"stored" | NackReasonCode> {
  const { store } = options;
  try {
    // A volume that is not a pair's target here is, for the sender, a volume that is not there.
    if (!options.accept(frame.volser)) return NackReason.VOLUME_NOT_FOUND;
    const shape = shapes.get(frame.volser) ?? store.showVolume(frame.volser);
    shapes.set(frame.volser, shape);
    if (frame.trackNumber >= shape.trackCount) return NackReason.TRACK_OUT_OF_RANGE;
    const offsetBytes = frame.trackNumber * shape.trackSizeBytes;
    if (frame.type === "TRACK_ZERO") {
      await store.zero(frame.volser, { offsetBytes, lengthBytes: shape.trackSizeBytes });
      return "stored";
    }
    // No reason names a wrong length; the closest is out of range: the bytes do not fit the
    // volume's track, just as a track past its end does not fit the volume.
    if (frame.data.length !== shape.trackSizeBytes) return NackReason.TRACK_OUT_OF_RANGE;
    await store.write(frame.volser, { offsetBytes, data: frame.data });
    return "stored";
  } catch (error) {
    if (!isGsnapError(error)) throw error;
    shapes.delete(frame.volser);
    return nackReasonFor(error.code);
  }
}

/** The link's word for a store error; the link has fewer words than the store has errors. */
function nackReasonFor(code: ErrorCode): NackReasonCode {
  switch (code) {
    case "VOLUME_NOT_FOUND":
      return NackReason.VOLUME_NOT_FOUND;
    case "IO_OUT_OF_RANGE":
      return NackReason.TRACK_OUT_OF_RANGE;
    // A read-only volume or a closed store takes no tracks now but may later: busy.
    case "VOLUME_READ_ONLY":
    case "STORE_CLOSED":
      return NackReason.BUSY;
    default:
      return NackReason.IO_ERROR;
  }
}
