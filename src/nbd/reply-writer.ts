// How an NBD connection's replies reach its socket. Handshake replies go at once, corked into one
// write; transmission replies (the ReplySink of transmission.ts) are held to the end of the turn
// and leave together in one writev. The socket is asked for at each write because it changes
// once, from TCP to TLS, after NBD_OPT_STARTTLS.

import type net from "node:net";
import type { ReplySink } from "./transmission.js";

/**
 * Replies held to leave in one writev (corkReplies) go once they add up to this: enough to save
 * the system calls and wake-ups of 256 small replies or four of nbdcopy's 256 KiB reads, little
 * enough that a client is not kept waiting while a turn reads dozens of large requests.
 */
const MAX_BATCHED_REPLY_BYTES = 1024 * 1024;

export class ReplyWriter implements ReplySink {
  private readonly socket: () => net.Socket;
  /** True while replies wait for the end of this turn of the event loop (corkReplies). */
  private repliesCorked = false;
  /** Bytes of the replies held so far. */
  private corkedBytes = 0;

  /** `socket` returns the connection's socket of the moment: TCP, or TLS after STARTTLS. */
  constructor(socket: () => net.Socket) {
    this.socket = socket;
  }

  /** Handshake replies: written together now, in order, before anything else is read. */
  sendNow(parts: readonly Buffer[]): void {
    const socket = this.socket();
    if (parts.length === 0 || socket.destroyed || socket.writableEnded) return;
    socket.cork();
    for (const part of parts) socket.write(part);
    socket.uncork();
  }

  /** A transmission reply: held with the others of this turn; `sent` runs once it has left. */
  send(parts: readonly Buffer[], sent: () => void): void {
    const socket = this.socket();
    if (socket.destroyed || socket.writableEnded) {
      sent();
      return;
    }
    let called = false;
    const once = () => {
      if (called) return;
      called = true;
      sent();
    };
    this.corkReplies();
    for (const part of parts) this.corkedBytes += part.length;
    for (let i = 0; i < parts.length - 1; i += 1) socket.write(parts[i]);
    socket.write(parts[parts.length - 1], once);
    if (this.corkedBytes >= MAX_BATCHED_REPLY_BYTES) this.uncorkReplies();
  }

  /**
   * Holds replies until the work at hand is done, to send them with one writev: requests that
   * arrive together (a client's queue of 4 KiB reads, answered from the page cache) get their
   * replies in one system call and wake the client once, not once each. Replies are sent from
   * promise callbacks, and a tick queued from one runs only once every promise callback queued so
   * far has run, so the replies of all the reads that finished together go out together.
   */
  private corkReplies(): void {
    if (this.repliesCorked) return;
    this.repliesCorked = true;
    this.socket().cork();
    process.nextTick(() => this.uncorkReplies());
  }

  private uncorkReplies(): void {
    if (!this.repliesCorked) return;
    this.repliesCorked = false;
    this.corkedBytes = 0;
    this.socket().uncork();
  }
}
