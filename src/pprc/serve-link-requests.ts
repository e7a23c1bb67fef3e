// Answers the requests a peer sends on a link until the link closes: PING with PONG. Tracks are
// not taken yet (pairs come later): TRACK_DATA and TRACK_ZERO get NACK (busy), so the sender
// fails the request rather than waiting. Both ends of a path run this.

import { NackReason } from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";

/** Resolves when the connection closes, for whatever reason. */
export async function serveLinkRequests(connection: LinkConnection): Promise<void> {
  for await (const frame of connection) {
    if (frame.type === "PING") connection.send({ type: "PONG", requestId: frame.requestId });
    else connection.send({ type: "NACK", requestId: frame.requestId, reason: NackReason.BUSY });
  }
}
