// The clocks of one NBD connection: how long a client may take over its handshake, how long an
// open export may sit silent, and how long a client has to close its side after we closed ours.
// They hold a slot (a descriptor, a place under the connection caps) against clients that went
// away without a word. The connection decides what a timeout means; this only keeps the timers.

import type net from "node:net";

/**
 * A client has this long to finish its handshake by default: an idle one otherwise holds a slot
 * forever. Real clients take milliseconds; 30 s leaves room for a client behind a slow TLS proxy.
 */
export const HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * An open export whose client sends nothing (and reads nothing we send) for this long is closed
 * by default, so that clients that went away without a word cannot keep every slot. Ten minutes
 * outlasts any pause of a working client's I/O; a VM whose disk may sit idle longer should
 * reconnect (qemu's reconnect-delay) or run with the idle timeout off (0).
 */
export const IDLE_TIMEOUT_MS = 600_000;

/** After we end a connection the client has this long to close its side before we drop it. */
const CLOSE_GRACE_MS = 2_000;

export interface ConnectionTimeouts {
  readonly handshakeMs: number;
  /** 0: never. */
  readonly idleMs: number;
}

export class ConnectionTimers {
  readonly timeouts: ConnectionTimeouts;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(timeouts: ConnectionTimeouts | undefined) {
    this.timeouts = timeouts ?? { handshakeMs: HANDSHAKE_TIMEOUT_MS, idleMs: IDLE_TIMEOUT_MS };
  }

  /** Starts the handshake's clock; `expired` runs unless handshakeOver comes first. */
  startHandshake(expired: () => void): void {
    this.handshakeTimer = setTimeout(expired, this.timeouts.handshakeMs);
  }

  handshakeOver(): void {
    clearTimeout(this.handshakeTimer);
  }

  /**
   * Calls `idle` each time the socket has seen no byte either way for the idle timeout (Node
   * re-arms the socket's timeout on every read and write); nothing when the timeout is off.
   */
  watchIdle(socket: net.Socket, idle: () => void): void {
    if (!(this.timeouts.idleMs > 0)) return;
    socket.setTimeout(this.timeouts.idleMs);
    socket.on("timeout", idle);
  }

  /**
   * Our side is closed: `expired` (which drops the socket) runs if the client has not closed its
   * side in time. The timer does not keep the process alive for a client that lingers.
   */
  startCloseGrace(expired: () => void): void {
    this.graceTimer = setTimeout(expired, CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  /** The socket has closed: nothing is left to time. */
  stop(): void {
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.graceTimer);
  }
}
