// Stores the tracks a peer sends: the receiving half of the copy engine (DESIGN.md §2).
// TRACK_BATCH carries many tracks of one volume, TRACK_DATA and TRACK_ZERO one each (protocol
// version 1); a track with data becomes a whole-track write, a zero record unmaps its track.
// TRACK_PIECE (version 3, a sync pair's host write) is part of a track, applied as the same small
// write or zero the host made, through the store's journal. A
// request is answered once all its tracks are stored: ACK, or NACK with a reason (one track, or
// a whole batch refused), or BATCH_NACK naming the tracks of a batch not stored. The connection
// has already checked every checksum and answered the damaged tracks itself, so a damaged track
// never reaches the store. A batch's block checksums (version 4) go to the store with their
// tracks: the checksum that verified a track's bytes vouches for the sender's record of them.
//
// The same track may arrive twice on different connections (the sender moved it after a
// connection failed); both carry the same bytes, so it is stored once and both are answered.

import type { ErrorCode } from "../errors/codes.js";
import { isGsnapError } from "../errors/gsnap-error.js";
import {
  type BatchRefusal,
  type BatchTrack,
  NackReason,
  type NackReasonCode,
  type TrackBatchFrame,
  type TrackDataFrame,
  type TrackPieceFrame,
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

/** One request's tracks waiting for the store, and what was refused of them so far. */
interface Request {
  readonly volser: string;
  /** The tracks to store, each with its index in the request. */
  readonly tracks: readonly { readonly track: BatchTrack; readonly index: number }[];
  readonly refusals: BatchRefusal[];
  /** Answers the request once its store call settled. */
  readonly answer: (refusals: readonly BatchRefusal[]) => void;
}

/**
 * Store calls in flight past which no new one starts. While they run, arriving requests wait and
 * then go together: a group commit. Four keep the thread pool's appends and the catalog busy while
 * the next call gathers.
 */
const MAX_STORE_CALLS = 4;

/**
 * Stores tracks as they arrive, in one store change per volume per turn: the tracks of every
 * request that arrived while the store was busy are sorted, and their runs of neighbouring tracks
 * go in one writeTracks (one catalog transaction, each chunk appended and recorded once). A
 * sender keeps many batches in flight per connection, so calls fill by themselves while the store
 * is busy.
 */
export class TrackStorer {
  // A volume's geometry never changes while it exists, and asking the store for it on every
  // request would walk its mapping tree each time; a deleted volume still fails in the store.
  private readonly shapes = new Map<string, VolumeShape>();
  private readonly waiting = new Map<string, Request[]>();
  private scheduled = false;
  private storeCalls = 0;

  constructor(private readonly store: Store) {}

  /** Stores one track (protocol version 1); the reply says whether it was stored. */
  async put(frame: TrackDataFrame | TrackZeroFrame): Promise<PeerReply> {
    const track: BatchTrack =
      frame.type === "TRACK_DATA"
        ? { trackNumber: frame.trackNumber, checksum: frame.checksum, data: frame.data }
        : { trackNumber: frame.trackNumber, checksum: 0n, data: undefined };
    const reply = await this.putBatch({
      type: "TRACK_BATCH",
      requestId: frame.requestId,
      volser: frame.volser,
      tracks: [track],
    });
    if (reply.type !== "BATCH_NACK") return reply;
    return { type: "NACK", reason: reply.refusals[0].reason as NackReasonCode };
  }

  /**
   * Applies part of a track (TRACK_PIECE) with store.write or store.zero, the journaled path of
   * small host writes: ACK once the store call returned (durable at the next flush), NACK 3 when
   * the piece does not fit the volume's geometry, else the store's refusal. The connection has
   * checked the piece's checksum.
   */
  async putPiece(frame: TrackPieceFrame): Promise<PeerReply> {
    try {
      const shape = this.shapeOf(frame.volser);
      if (
        frame.trackNumber >= shape.trackCount ||
        frame.offsetBytes + frame.lengthBytes > shape.trackSizeBytes
      ) {
        return { type: "NACK", reason: NackReason.TRACK_OUT_OF_RANGE };
      }
      const offsetBytes = frame.trackNumber * shape.trackSizeBytes + frame.offsetBytes;
      if (frame.data === undefined) {
        await this.store.zero(frame.volser, { offsetBytes, lengthBytes: frame.lengthBytes });
      } else {
        await this.store.write(frame.volser, { offsetBytes, data: frame.data });
      }
      return { type: "ACK" };
    } catch (error) {
      return this.refusal(frame.volser, error);
    }
  }

  /** Stores the tracks of a batch; ACK, NACK (all refused alike) or BATCH_NACK (some refused). */
  putBatch(frame: TrackBatchFrame): Promise<PeerReply> {
    let shape: VolumeShape;
    try {
      shape = this.shapeOf(frame.volser);
    } catch (error) {
      return Promise.resolve(this.refusal(frame.volser, error));
    }
    const refusals: BatchRefusal[] = [];
    const tracks: { track: BatchTrack; index: number }[] = [];
    frame.tracks.forEach((track, index) => {
      // No reason names a wrong length; the closest is out of range: the bytes do not fit the
      // volume's track, just as a track past its end does not fit the volume.
      const fits =
        track.trackNumber < shape.trackCount &&
        (track.data === undefined || track.data.length === shape.trackSizeBytes);
      if (fits) tracks.push({ track, index });
      else refusals.push({ index, reason: NackReason.TRACK_OUT_OF_RANGE });
    });
    return new Promise((reply) => {
      const answer = (all: readonly BatchRefusal[]) => reply(replyFor(frame, all));
      if (tracks.length === 0) {
        answer(refusals);
        return;
      }
      const list = this.waiting.get(frame.volser) ?? [];
      list.push({ volser: frame.volser, tracks, refusals, answer });
      this.waiting.set(frame.volser, list);
      this.kick();
    });
  }

  /** Stores what waits on the next turn of the event loop, unless the store is busy. */
  private kick(): void {
    if (this.scheduled || this.storeCalls >= MAX_STORE_CALLS || this.waiting.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.storeWaiting();
    });
  }

  private storeWaiting(): void {
    for (const [volser, requests] of this.waiting) {
      this.waiting.delete(volser);
      this.storeCalls += 1;
      void this.storeRequests(volser, requests).finally(() => {
        this.storeCalls -= 1;
        this.kick();
      });
    }
  }

  /** One store change for the tracks of every request of a volume; answers each. Never rejects. */
  private async storeRequests(volser: string, requests: readonly Request[]): Promise<void> {
    const runs = runsOf(requests);
    let failure: NackReasonCode | undefined;
    try {
      await this.store.writeTracks(
        volser,
        runs.map((run) => ({
          firstTrack: run[0].trackNumber,
          tracks: run.map((track) => ({
            data: track.data,
            checksum: track.checksum,
            blockSums: track.blockSums,
          })),
        })),
      );
    } catch (error) {
      const reply = this.refusal(volser, error);
      failure = reply.type === "NACK" ? reply.reason : NackReason.IO_ERROR;
    }
    for (const request of requests) {
      if (failure !== undefined) {
        for (const { index } of request.tracks) request.refusals.push({ index, reason: failure });
      }
      request.answer(request.refusals);
    }
  }

  private shapeOf(volser: string): VolumeShape {
    const shape = this.shapes.get(volser) ?? this.store.showVolume(volser);
    this.shapes.set(volser, shape);
    return shape;
  }

  /**
   * The NACK for a store failure. An error that is not a GsnapError is a fault here, but the peer
   * still gets an answer (I/O error) and the server goes on: it must not end the process.
   */
  private refusal(volser: string, error: unknown): PeerReply {
    this.shapes.delete(volser);
    return {
      type: "NACK",
      reason: isGsnapError(error) ? nackReasonFor(error.code) : NackReason.IO_ERROR,
    };
  }
}

/** ACK when nothing was refused; else BATCH_NACK with the refusals in index order. */
function replyFor(frame: TrackBatchFrame, refusals: readonly BatchRefusal[]): PeerReply {
  if (refusals.length === 0) return { type: "ACK" };
  const reason = refusals[0].reason as NackReasonCode;
  if (refusals.length === frame.tracks.length && refusals.every((r) => r.reason === reason)) {
    return { type: "NACK", reason };
  }
  return { type: "BATCH_NACK", refusals: [...refusals].sort((a, b) => a.index - b.index) };
}

/**
 * The tracks of the requests as runs of neighbouring tracks, in track order. A track that came
 * twice (resent after a connection failed: the same bytes) is stored once.
 */
function runsOf(requests: readonly Request[]): BatchTrack[][] {
  const tracks: BatchTrack[] = [];
  for (const request of requests) for (const { track } of request.tracks) tracks.push(track);
  // One request's tracks come in order: sorting is needed only when several requests gathered.
  if (requests.length > 1) tracks.sort((a, b) => a.trackNumber - b.trackNumber);
  const runs: BatchTrack[][] = [];
  let run: BatchTrack[] = [];
  for (const track of tracks) {
    const last = run.at(-1);
    if (last !== undefined && last.trackNumber === track.trackNumber) continue;
    if (last !== undefined && last.trackNumber + 1 !== track.trackNumber) {
      runs.push(run);
      run = [];
    }
    run.push(track);
  }
  if (run.length > 0) runs.push(run);
  return runs;
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
    if (
      request.type !== "TRACK_DATA" &&
      request.type !== "TRACK_ZERO" &&
      request.type !== "TRACK_BATCH"
    ) {
      return { type: "NACK", reason: NackReason.BUSY };
    }
    if (!options.accept(request.volser)) return { type: "NACK", reason: NackReason.NOT_PAIRED };
    return request.type === "TRACK_BATCH" ? storer.putBatch(request) : storer.put(request);
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
