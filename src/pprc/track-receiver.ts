// Stores the tracks a peer sends: the receiving half of the copy engine (DESIGN.md §2).
// TRACK_DATA becomes a write of the whole track, TRACK_ZERO a zero (which unmaps the track); each
// is answered ACK once stored, or NACK with a reason when refused or when the store fails. The
// connection has already checked each TRACK_DATA checksum and answered NACK (checksum mismatch)
// itself, so a damaged track never reaches the store.
//
// The same track may arrive twice on different connections (the sender moved it after a
// connection failed); both carry the same bytes, so their order does not matter.

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
import type { PeerReply } from "./serve-link-requests.js";
import { serveLinkRequests } from "./serve-link-requests.js";

interface VolumeShape {
  readonly trackCount: number;
  readonly trackSizeBytes: number;
}

export class TrackStorer {
  // A volume's geometry never changes while it exists, and asking the store for it on every
  // track would walk its mapping tree each time; a deleted volume still fails in the store.
  private readonly shapes = new Map<string, VolumeShape>();

  constructor(private readonly store: Store) {}

  /** Stores one track; the reply says whether it was stored. */
  async put(frame: TrackDataFrame | TrackZeroFrame): Promise<PeerReply> {
    const reason = await this.tryStore(frame);
    return reason === undefined ? { type: "ACK" } : { type: "NACK", reason };
  }

  private async tryStore(
    frame: TrackDataFrame | TrackZeroFrame,
  ): Promise<NackReasonCode | undefined> {
    const { store } = this;
    try {
      const shape = this.shapes.get(frame.volser) ?? store.showVolume(frame.volser);
      this.shapes.set(frame.volser, shape);
      if (frame.trackNumber >= shape.trackCount) return NackReason.TRACK_OUT_OF_RANGE;
      const offsetBytes = frame.trackNumber * shape.trackSizeBytes;
      if (frame.type === "TRACK_ZERO") {
        await store.zero(frame.volser, { offsetBytes, lengthBytes: shape.trackSizeBytes });
        return undefined;
      }
      // No reason names a wrong length; the closest is out of range: the bytes do not fit the
      // volume's track, just as a track past its end does not fit the volume.
      if (frame.data.length !== shape.trackSizeBytes) return NackReason.TRACK_OUT_OF_RANGE;
      await store.write(frame.volser, { offsetBytes, data: frame.data });
      return undefined;
    } catch (error) {
      if (!isGsnapError(error)) throw error;
      this.shapes.delete(frame.volser);
      return nackReasonFor(error.code);
    }
  }
}

export interface ReceiveTracksOptions {
  readonly store: Store;
  readonly connection: LinkConnection;
  /** Whether tracks for this volume may be stored here (it is the target of a pair); false: NACK. */
  readonly accept: (volser: string) => boolean;
}

/**
 * Serves one connection that carries only tracks until it closes (the copy engine's tests; the
 * daemon routes tracks through its pairs instead).
 */
export async function receiveTracks(options: ReceiveTracksOptions): Promise<void> {
  const storer = new TrackStorer(options.store);
  await serveLinkRequests(options.connection, async (request) => {
    if (request.type !== "TRACK_DATA" && request.type !== "TRACK_ZERO") {
      return { type: "NACK", reason: NackReason.BUSY };
    }
    if (!options.accept(request.volser)) return { type: "NACK", reason: NackReason.NOT_PAIRED };
    return storer.put(request);
  });
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
