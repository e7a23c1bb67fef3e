// Sends the tracks of one piece of work over one connection and says what became of each: the
// requests of the copy engine (track-sender.ts runs the lanes that call these). A TRACK_BATCH
// where the peer speaks protocol version 2 (with each track's block checksums from 4), one TRACK_DATA or TRACK_ZERO per track where it speaks
// 1; a track the target found damaged goes again, alone, a bounded number of times.

import assert from "node:assert/strict";
import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import {
  type BatchTrack,
  NackReason,
  type ReplyFrame,
  SUM_BLOCK_BYTES,
  type TrackPieceFrame,
} from "../link/frame-types.js";
import type { LinkConnection, RequestBody } from "../link/link-connection.js";
import { blockChecksums, CHECKSUM_BLOCK_BYTES } from "../store/checksum.js";
import type { OutgoingTrack } from "./track-feed.js";

/**
 * How often one track is sent again on one connection after the target found it damaged. Links
 * damage frames rarely (TCP has its own checksum); a track damaged 4 times in a row points at a
 * broken link or peer, and trying forever would hide it.
 */
export const MAX_CHECKSUM_RESENDS = 3;

/**
 * What the sender needs of a connection; LinkConnection is one, tests wrap one. Without
 * `carriesBatches` (a wrapper that does not say) tracks go one per request.
 */
export type TrackLink = Pick<LinkConnection, "request" | "isClosed"> &
  Partial<Pick<LinkConnection, "carriesBatches" | "carriesBlockSums">>;

// The link's block checksums are the store's: a receiver stores them as they come.
assert.equal(SUM_BLOCK_BYTES, CHECKSUM_BLOCK_BYTES, "the link's sum blocks are the store's");

/** What became of the tracks of one work on one connection. */
export interface SentWork {
  readonly acknowledged: readonly OutgoingTrack[];
  /** Not acknowledged because the connection failed: they go to another. */
  readonly left: readonly OutgoingTrack[];
  readonly linkError?: unknown;
  /** The first track the target refused for good, which ends the copy. */
  readonly refused?: { readonly track: OutgoingTrack; readonly sent: SentTrack };
  /** Tracks sent again after the target found them damaged. */
  readonly resends: number;
}

/**
 * Sends tracks as TRACK_BATCH requests on one connection: all of them, then again those the
 * target found damaged (at most MAX_CHECKSUM_RESENDS times).
 */
async function sendBatch(
  connection: TrackLink,
  volser: string,
  tracks: readonly OutgoingTrack[],
): Promise<SentWork> {
  const acknowledged: OutgoingTrack[] = [];
  let pending = tracks;
  let resends = 0;
  const withSums = connection.carriesBlockSums === true;
  for (let attempt = 0; ; attempt += 1) {
    let reply: ReplyFrame;
    try {
      reply = await connection.request({
        type: "TRACK_BATCH",
        volser,
        tracks: pending.map((track) => batchTrackOf(track, withSums)),
      });
    } catch (error) {
      if (!isGsnapError(error)) throw error;
      return { acknowledged, left: pending, linkError: error, resends };
    }
    const reasons = refusalReasons(reply, pending.length);
    if (reasons === undefined) {
      // An answer no batch can have (another type, a track the batch does not hold): nothing
      // of it counts as stored, and the copy ends on its first track with the answer.
      const sent = { reply, resends: attempt };
      return { acknowledged, left: [], refused: { track: pending[0], sent }, resends };
    }
    const damaged: OutgoingTrack[] = [];
    for (let i = 0; i < pending.length; i += 1) {
      const reason = reasons[i];
      if (reason === 0) {
        acknowledged.push(pending[i]);
        continue;
      }
      if (reason !== NackReason.CHECKSUM_MISMATCH || attempt === MAX_CHECKSUM_RESENDS) {
        const nack: ReplyFrame = { type: "NACK", requestId: reply.requestId, reason };
        const sent = { reply: nack, resends: attempt };
        return { acknowledged, left: [], refused: { track: pending[i], sent }, resends };
      }
      damaged.push(pending[i]);
    }
    if (damaged.length === 0) return { acknowledged, left: [], resends };
    resends += damaged.length;
    pending = damaged;
  }
}

/**
 * The reason each track of a batch was refused (0: stored), from its reply; undefined when the
 * reply is not one a batch can have (the caller refuses the first track with it).
 */
function refusalReasons(reply: ReplyFrame, count: number): number[] | undefined {
  if (reply.type === "ACK") return new Array(count).fill(0);
  if (reply.type === "NACK") return new Array(count).fill(reply.reason);
  if (reply.type !== "BATCH_NACK") return undefined;
  const reasons = new Array(count).fill(0);
  for (const refusal of reply.refusals) {
    // An index past the batch is the peer's fault: its track is refused like a protocol error.
    if (refusal.index >= count) return undefined;
    reasons[refusal.index] = refusal.reason;
  }
  return reasons;
}

/**
 * A track as a batch carries it; `withSums`: with its block checksums, hashed here only for a track
 * whose chunk record has none (or whose journaled writes the read laid over it).
 */
function batchTrackOf(track: OutgoingTrack, withSums: boolean): BatchTrack {
  if (track.kind === "zero")
    return { trackNumber: track.trackNumber, checksum: 0n, data: undefined };
  const sent = { trackNumber: track.trackNumber, checksum: track.checksum, data: track.data };
  if (!withSums) return sent;
  return { ...sent, blockSums: track.blockSums ?? blockChecksums(track.data) };
}

/** Sends one track in a request of its own (protocol version 1: no batches). */
async function sendSingle(
  connection: TrackLink,
  volser: string,
  track: OutgoingTrack,
): Promise<SentWork> {
  let sent: SentTrack;
  try {
    sent = await sendTrack(connection, volser, track);
  } catch (error) {
    if (!isGsnapError(error)) throw error;
    return { acknowledged: [], left: [track], linkError: error, resends: 0 };
  }
  if (sent.reply.type === "ACK") return { acknowledged: [track], left: [], resends: sent.resends };
  return { acknowledged: [], left: [], refused: { track, sent }, resends: sent.resends };
}

/**
 * Sends the tracks of one work on one connection: as one TRACK_BATCH where the connection carries
 * batches, else the one track it holds on its own.
 */
export function sendWork(
  connection: TrackLink,
  volser: string,
  tracks: readonly OutgoingTrack[],
): Promise<SentWork> {
  if (connection.carriesBatches === true) return sendBatch(connection, volser, tracks);
  assert.equal(tracks.length, 1, "a connection without batches takes one track at a time");
  return sendSingle(connection, volser, tracks[0]);
}

export interface SentTrack {
  /** The last reply: ACK, or the NACK that ends the track's sending. */
  readonly reply: ReplyFrame;
  /** How often the track went again after a checksum NACK. */
  readonly resends: number;
}

/**
 * Sends one track on one connection, again after each checksum NACK (at most
 * MAX_CHECKSUM_RESENDS times). Rejects with LINK_DOWN when the connection fails.
 */
export async function sendTrack(
  connection: TrackLink,
  volser: string,
  track: OutgoingTrack,
): Promise<SentTrack> {
  const request: RequestBody =
    track.kind === "zero"
      ? { type: "TRACK_ZERO", volser, trackNumber: track.trackNumber }
      : {
          type: "TRACK_DATA",
          volser,
          trackNumber: track.trackNumber,
          checksum: track.checksum,
          data: track.data,
        };
  for (let resends = 0; ; resends += 1) {
    const reply = await connection.request(request);
    const damaged = reply.type === "NACK" && reply.reason === NackReason.CHECKSUM_MISMATCH;
    if (!damaged || resends === MAX_CHECKSUM_RESENDS) return { reply, resends };
  }
}

/**
 * Sends part of one track (TRACK_PIECE, protocol version 3) on one connection, again after each
 * checksum NACK (at most MAX_CHECKSUM_RESENDS times), as sendTrack does a whole track. Rejects
 * with LINK_DOWN when the connection fails.
 */
export async function sendPiece(
  connection: TrackLink,
  piece: Omit<TrackPieceFrame, "requestId" | "type">,
): Promise<SentTrack> {
  const request: RequestBody = { type: "TRACK_PIECE", ...piece };
  for (let resends = 0; ; resends += 1) {
    const reply = await connection.request(request);
    const damaged = reply.type === "NACK" && reply.reason === NackReason.CHECKSUM_MISMATCH;
    if (!damaged || resends === MAX_CHECKSUM_RESENDS) return { reply, resends };
  }
}

/** The typed error for a reply that ends a track's (or a piece's) sending. */
export function trackRefusal(
  copy: { source: string; target: string; track: { readonly trackNumber: number } },
  sent: SentTrack,
): GsnapError {
  const { reply, resends } = sent;
  const what =
    `Cannot send track ${copy.track.trackNumber} of volume "${copy.source}" to ` +
    `"${copy.target}"`;
  if (reply.type !== "NACK") {
    return new GsnapError("LINK_PROTOCOL", `${what}: the target answered ${reply.type}`);
  }
  switch (reply.reason) {
    case NackReason.CHECKSUM_MISMATCH:
      return new GsnapError(
        "LINK_PROTOCOL",
        `${what}: it arrived damaged ${resends + 1} times in a row`,
      );
    case NackReason.VOLUME_NOT_FOUND:
      return new GsnapError("VOLUME_NOT_FOUND", `${what}: the target has no such volume`);
    case NackReason.TRACK_OUT_OF_RANGE:
      return new GsnapError("IO_OUT_OF_RANGE", `${what}: the track does not fit the target`);
    case NackReason.BUSY:
      // The target takes no tracks for this volume now: the closest code is a volume that
      // refuses writes.
      return new GsnapError("VOLUME_READ_ONLY", `${what}: the target is busy`);
    case NackReason.IO_ERROR:
      return new GsnapError("IO_ERROR", `${what}: the target could not store it`);
    case NackReason.NOT_PAIRED:
      return new GsnapError(
        "PAIR_NOT_FOUND",
        `${what}: the target volume is in no pair with this system`,
      );
    default:
      return new GsnapError("LINK_PROTOCOL", `${what}: NACK with unknown reason ${reply.reason}`);
  }
}
