// Answers the requests a peer sends on a link until the link closes: PING with PONG, and every
// other request (tracks, pair requests) with the ACK or NACK its handler gives. Requests are
// handled as they arrive, without waiting for the previous one: the connection's window bounds how
// many are pending, and the store commits changes in the order they were asked for. Both ends of
// a path run this; a side with no pairs refuses every track as busy.

import {
  type BatchRefusal,
  NackReason,
  type NackReasonCode,
  type PingFrame,
  type RequestFrame,
} from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";

/** A request other than PING: tracks, pair requests and control requests. */
export type PeerRequest = Exclude<RequestFrame, PingFrame>;

export type PeerReply =
  | { readonly type: "ACK" }
  | { readonly type: "NACK"; reason: NackReasonCode }
  | { readonly type: "BATCH_NACK"; readonly refusals: readonly BatchRefusal[] }
  | { readonly type: "RESULT"; readonly body: string };

/** Handles one request from the storage system with serial `peerSerial`; never throws. */
export type PeerRequestHandler = (request: PeerRequest, peerSerial: string) => Promise<PeerReply>;

/** What a system with nothing to receive answers: busy, try later. */
export const refuseAll: PeerRequestHandler = async () => ({
  type: "NACK",
  reason: NackReason.BUSY,
});

/** Resolves when the connection closes, for whatever reason, and every reply has been given. */
export async function serveLinkRequests(
  connection: LinkConnection,
  handle: PeerRequestHandler = refuseAll,
): Promise<void> {
  const pending = new Set<Promise<void>>();
  const peerSerial = connection.linkSession.peerSerial;
  for await (const frame of connection) {
    if (frame.type === "PING") {
      connection.send({ type: "PONG", requestId: frame.requestId });
      continue;
    }
    const handled = handle(frame, peerSerial)
      .catch((): PeerReply => ({ type: "NACK", reason: NackReason.IO_ERROR }))
      .then((reply) => {
        connection.send({ ...reply, requestId: frame.requestId });
      });
    pending.add(handled);
    void handled.finally(() => pending.delete(handled));
  }
  await Promise.all(pending);
}
