// One link of a path: the I/O shell that connects to the remote system, checks that the remote
// SSID is there, keeps the connection alive with PING, and reconnects with exponential backoff
// when it fails. Its state and reason are named by path-state.ts.

import { GsnapError } from "../errors/gsnap-error.js";
import { connectLink, type LinkTlsClientOptions } from "../link/connect-link.js";
import type { LinkConnection } from "../link/link-connection.js";
import { type LinkLogger, silentLinkLogger } from "../link/link-logger.js";
import { parseLinkAddress } from "./path-spec.js";
import {
  backoffMs,
  type LinkReason,
  type LinkState,
  type LinkStatus,
  linkReason,
} from "./path-state.js";

/** How often and how patiently links are tried and kept alive. */
export interface PathTiming {
  /** A PING goes this often on an established link. */
  readonly pingIntervalMs: number;
  /** A link whose PING has no PONG in this time is failed ("timed out"). */
  readonly pingTimeoutMs: number;
  /** A connection attempt (TCP, TLS and handshake) gives up after this ("timed out"). */
  readonly connectTimeoutMs: number;
  /** The first wait before a failed link is tried again; it doubles at each failure... */
  readonly backoffMinMs: number;
  /** ...up to this. */
  readonly backoffMaxMs: number;
}

export const DEFAULT_PATH_TIMING: PathTiming = {
  // Every 5 s notices a dead peer within seconds at a cost of one small frame.
  pingIntervalMs: 5_000,
  // A loaded peer on a long path still answers within 5 s; silence past that is a dead link.
  pingTimeoutMs: 5_000,
  // Past the OS's quick refusals, 5 s covers TCP retries on a lossy network and the handshake.
  connectTimeoutMs: 5_000,
  // A link that dropped by accident is back within half a second...
  backoffMinMs: 500,
  // ...and a peer that is down costs one attempt each 10 s, yet is found 10 s after it returns.
  backoffMaxMs: 10_000,
};

export interface PathLinkOptions {
  readonly address: string;
  readonly remoteSerial: string;
  readonly remoteSsid: string;
  readonly serial: string;
  readonly ssids: readonly string[];
  /** Without a secret the link is never tried: it stays failed with "no link secret". */
  readonly secret: string | undefined;
  readonly tls?: LinkTlsClientOptions;
  readonly logger?: LinkLogger;
  readonly timing: PathTiming;
  /** Answers what the peer asks on the connection until it closes. */
  readonly serve: (connection: LinkConnection) => Promise<void>;
}

export class PathLink {
  private current: Omit<LinkStatus, "bytesSent" | "bytesReceived">;
  private connection: LinkConnection | undefined;
  /** Bytes of connections that have closed; the open one's are added when asked. */
  private closedBytes = { sent: 0, received: 0 };
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Settles once the first attempt has an outcome (or at once without a secret). */
  readonly firstAttempt: Promise<void>;

  constructor(private readonly options: PathLinkOptions) {
    const reason: LinkReason = options.secret === undefined ? "no link secret" : "connecting";
    this.current = { address: options.address, state: "failed", reason, since: now() };
    this.firstAttempt = options.secret === undefined ? Promise.resolve() : this.attempt();
  }

  get status(): LinkStatus {
    const open = this.connection;
    return {
      ...this.current,
      bytesSent: this.closedBytes.sent + (open?.bytesSent ?? 0),
      bytesReceived: this.closedBytes.received + (open?.bytesReceived ?? 0),
    };
  }

  /** The link's authenticated connection while it is established; pairs send tracks on it. */
  get liveConnection(): LinkConnection | undefined {
    return this.connection?.isClosed === false ? this.connection : undefined;
  }

  /** Stops trying and closes the connection. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.connection?.close("LINK_DOWN", "Path removed or system stopping");
    this.connection = undefined;
  }

  private async attempt(): Promise<void> {
    if (this.closed) return;
    let connection: LinkConnection;
    try {
      connection = await this.connect();
    } catch (error) {
      this.fail(linkReason(error));
      return;
    }
    if (this.closed) {
      connection.close("LINK_DOWN", "Path removed or system stopping");
      return;
    }
    if (!connection.linkSession.peerSsids.includes(this.options.remoteSsid)) {
      connection.close(
        "LINK_PROTOCOL",
        `Cannot use link to ${this.options.address}: system ${this.options.remoteSerial} has no subsystem ${this.options.remoteSsid}`,
      );
      this.fail("unknown SSID");
      return;
    }
    this.connection = connection;
    this.failures = 0;
    this.set("established");
    this.watch(connection);
  }

  /** Connects and authenticates within connectTimeoutMs; a late connection is closed. */
  private connect(): Promise<LinkConnection> {
    const { host, port } = parseLinkAddress(this.options.address);
    const timeoutMs = this.options.timing.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        const message = `Cannot connect link to ${this.options.address}: no answer within ${timeoutMs} ms`;
        reject(new GsnapError("LINK_DOWN", message, { cause: { code: "ETIMEDOUT" } }));
      }, timeoutMs);
      connectLink({
        host,
        port,
        secret: this.options.secret ?? "",
        serial: this.options.serial,
        expectSerial: this.options.remoteSerial,
        ssids: this.options.ssids,
        tls: this.options.tls,
        logger: this.options.logger ?? silentLinkLogger,
        handshakeTimeoutMs: timeoutMs,
      }).then(
        (connection) => {
          clearTimeout(timer);
          if (timedOut) connection.close("LINK_DOWN", "Connected too late");
          else resolve(connection);
        },
        (error) => {
          clearTimeout(timer);
          if (!timedOut) reject(error);
        },
      );
    });
  }

  /** Answers the peer and PINGs it until the connection closes, then fails the link. */
  private watch(connection: LinkConnection): void {
    let closeReason: LinkReason = "down";
    const ping = () => {
      const timeout = setTimeout(() => {
        closeReason = "timed out";
        connection.close("LINK_DOWN", "No PONG in time");
      }, this.options.timing.pingTimeoutMs);
      const sentMs = performance.now();
      connection.request({ type: "PING" }).then(
        () => {
          clearTimeout(timeout);
          this.current = { ...this.current, rttMs: performance.now() - sentMs };
        },
        () => clearTimeout(timeout),
      );
    };
    const pinger = setInterval(ping, this.options.timing.pingIntervalMs);
    ping();
    void this.options.serve(connection).finally(() => {
      clearInterval(pinger);
      this.closedBytes.sent += connection.bytesSent;
      this.closedBytes.received += connection.bytesReceived;
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.fail(closeReason);
    });
  }

  private fail(reason: LinkReason): void {
    if (this.closed) return;
    this.set("failed", reason);
    this.failures += 1;
    const waitMs = backoffMs({
      failures: this.failures,
      minMs: this.options.timing.backoffMinMs,
      maxMs: this.options.timing.backoffMaxMs,
    });
    this.retryTimer = setTimeout(() => void this.attempt(), waitMs);
    this.retryTimer.unref();
  }

  private set(state: LinkState, reason?: LinkReason): void {
    if (this.current.state === state && this.current.reason === reason) return;
    // `since` is when the link entered its state: a failed link that fails for a new reason
    // (down, then refused while the peer restarts) has been failed since the first.
    const since = this.current.state === state ? this.current.since : now();
    // A round trip measured on a connection that failed says nothing of the next one.
    this.current = { address: this.options.address, state, reason, since };
    this.options.logger?.info(
      {
        link: this.options.address,
        to: `${this.options.remoteSerial}.${this.options.remoteSsid}`,
        state,
        reason,
      },
      `path link ${state}`,
    );
  }
}

function now(): string {
  return new Date().toISOString();
}
