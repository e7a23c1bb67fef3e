// The tracks of a TRACK_BATCH that arrived damaged (their bytes fail the checksum they came with,
// or the batch's block checksums fail theirs), and the answer that names them. The connection checks every track before anyone can store it,
// hands on a batch of the sound tracks alone, and adds the damaged ones, reason CHECKSUM_MISMATCH,
// to whatever the handler answers for the sound ones: so the sender sends again only those. Pure.

import {
  type BatchRefusal,
  NackReason,
  type ReplyFrame,
  type TrackBatchFrame,
} from "./frame-types.js";
import { trackChecksum } from "./track-checksum.js";

export interface BatchDamage {
  /** Indices, in the batch as sent, of the damaged tracks, in increasing order. */
  readonly damaged: readonly number[];
  /** Indices, in the batch as sent, of the tracks handed on, in increasing order. */
  readonly kept: readonly number[];
}

/** Checks every track's bytes; the batch of the sound tracks (undefined: none) and the damage. */
export function splitDamaged(frame: TrackBatchFrame): {
  readonly sound: TrackBatchFrame | undefined;
  readonly damage: BatchDamage | undefined;
} {
  let damaged: number[] | undefined;
  // Block checksums damaged on the way could be any track's: every data track goes again (and
  // none is hashed, since none is kept).
  const allData = frame.sumsDamaged === true;
  frame.tracks.forEach((track, index) => {
    if (track.data === undefined) return;
    if (allData || trackChecksum(track.data) !== track.checksum) {
      damaged ??= [];
      damaged.push(index);
    }
  });
  if (damaged === undefined) return { sound: frame, damage: undefined };
  const bad = new Set(damaged);
  const kept = frame.tracks.map((_, index) => index).filter((index) => !bad.has(index));
  const sound =
    kept.length === 0 ? undefined : { ...frame, tracks: kept.map((index) => frame.tracks[index]) };
  return { sound, damage: { damaged, kept } };
}

/**
 * The answer to the batch as sent: the handler's answer for the sound tracks (undefined when none
 * was handed on), with the damaged tracks added.
 */
export function answerWithDamage(
  reply: ReplyFrame | undefined,
  damage: BatchDamage,
  requestId: number,
): ReplyFrame {
  const refusals: BatchRefusal[] = damage.damaged.map((index) => ({
    index,
    reason: NackReason.CHECKSUM_MISMATCH,
  }));
  if (reply?.type === "BATCH_NACK") {
    for (const refusal of reply.refusals) {
      refusals.push({ index: damage.kept[refusal.index], reason: refusal.reason });
    }
  } else if (reply?.type === "NACK") {
    // One reason for every sound track (the volume is unknown, the store failed...).
    for (const index of damage.kept) refusals.push({ index, reason: reply.reason });
  }
  refusals.sort((a, b) => a.index - b.index);
  return { type: "BATCH_NACK", requestId, refusals };
}
