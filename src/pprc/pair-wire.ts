// What the pairs' wire frames mean to the pair manager: the error for a PAIR_OPEN the secondary
// refused, the pair mode, state and suspend reason a frame carries, and the track bytes a batch's
// reply says were stored. Pure.

import { GsnapError } from "../errors/gsnap-error.js";
import {
  NackReason,
  type ReplyFrame,
  type TrackBatchFrame,
  WirePairMode,
  WirePairState,
  WireSuspendReason,
} from "../link/frame-types.js";
import type { PairMode, SuspendReason } from "./pair-service.js";
import type { PeerReply } from "./serve-link-requests.js";

/** The error for a PAIR_OPEN the secondary refused. */
export function checkOpened(reply: ReplyFrame, what: string, remoteSerial: string): void {
  if (reply.type === "ACK") return;
  const reason = reply.type === "NACK" ? reply.reason : undefined;
  switch (reason) {
    case NackReason.VOLUME_NOT_FOUND:
      throw new GsnapError(
        "VOLUME_NOT_FOUND",
        `${what}: system ${remoteSerial} has no such volume in that subsystem`,
      );
    case NackReason.PAIR_EXISTS:
      throw new GsnapError("PAIR_EXISTS", `${what}: the remote volume is in another pair`);
    case NackReason.GEOMETRY_MISMATCH:
      throw new GsnapError(
        "PAIR_GEOMETRY_MISMATCH",
        `${what}: the remote volume's tracks differ in number or size (create it with the same model and cylinders)`,
      );
    case NackReason.NOT_PAIRED:
      throw new GsnapError(
        "PAIR_NOT_FOUND",
        `${what}: the secondary no longer has the pair (terminate it here and establish it again)`,
      );
    default:
      throw new GsnapError(
        "LINK_PROTOCOL",
        `${what}: the remote system answered ${reply.type} ${reason ?? ""}`,
      );
  }
}

export function modeOf(wire: number): PairMode {
  return wire === WirePairMode.sync ? "sync" : "copy";
}

export function stateOf(wire: number): "pending" | "duplex" | "suspended" {
  if (wire === WirePairState.duplex) return "duplex";
  return wire === WirePairState.suspended ? "suspended" : "pending";
}

export function reasonOf(wire: number): SuspendReason {
  const found = Object.entries(WireSuspendReason).find(([, value]) => value === wire);
  return (found === undefined || found[0] === "none" ? "operator" : found[0]) as SuspendReason;
}

/** The track bytes of a batch that its reply says were stored. */
export function storedBytes(batch: TrackBatchFrame, reply: PeerReply): number {
  if (reply.type !== "ACK" && reply.type !== "BATCH_NACK") return 0;
  const refused = new Set(reply.type === "BATCH_NACK" ? reply.refusals.map((r) => r.index) : []);
  let bytes = 0;
  batch.tracks.forEach((track, index) => {
    if (!refused.has(index)) bytes += track.data?.length ?? 0;
  });
  return bytes;
}
