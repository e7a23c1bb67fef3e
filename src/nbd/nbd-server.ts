// The NBD server, gsnap's host interface: one export per volume of the store, named by its
// VOLSER, over the fixed newstyle protocol (docs/nbd.md). It accepts connections and gives each
// its own NbdConnection; a failure on one connection never reaches the others or the server.
// Its gate (src/limits) caps connections per client address and in all; a connection over a cap
// is told why in the handshake (refusal.ts) and closed.

import net from "node:net";
import type tls from "node:tls";
import { ListenerGate } from "../limits/listener-gate.js";
import { type ConnectionStats, NbdConnection } from "./connection.js";
import {
  type ConnectionTimeouts,
  HANDSHAKE_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
} from "./connection-timers.js";
import { storeExports } from "./export-directory.js";
import type { HostVolumes } from "./host-volumes.js";
import { type NbdTls, tlsServerOptions } from "./nbd-tls.js";
import { type NbdLogger, type NbdObserver, silentLogger } from "./observer.js";
import { ReceiveBuffer } from "./receive-buffer.js";
import { NbdRefusal } from "./refusal.js";

export type { NbdLogger, NbdObserver } from "./observer.js";

/**
 * Connections served at once by default. Each may hold MAX_IN_FLIGHT_BYTES (64 MiB) of requests,
 * so this bounds the server's request memory at 4 GiB; it leaves room for a dozen multi-conn
 * clients (nbdcopy opens 4 connections, qemu up to 16).
 */
export const MAX_CONNECTIONS = 64;

/**
 * Connections from one client address by default: one qemu with 16 connections (multi-conn), or
 * nbdcopy's 4 both ways twice over, while four busy hosts still leave room for others.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 16;

/**
 * Refused connections being told why at once; past this a refused connection is closed without a
 * word, so that a flood of refusals holds no more than this many descriptors for long.
 */
const MAX_REFUSING = 16;

/** A refused client has this long to read why before its connection is dropped. */
const REFUSAL_TIMEOUT_MS = 2_000;

export interface NbdServerOptions {
  readonly store: HostVolumes;
  readonly logger?: NbdLogger;
  readonly observer?: NbdObserver;
  /** Caps connections; default a gate of its own with the default caps. */
  readonly gate?: ListenerGate;
  readonly timeouts?: Partial<ConnectionTimeouts>;
  /** NBD_OPT_STARTTLS offered (or required) with these credentials; undefined: no TLS. */
  readonly tls?: NbdTls;
}

export interface NbdAddress {
  readonly host: string;
  readonly port: number;
}

export class NbdServer {
  private readonly store: HostVolumes;
  private readonly logger: NbdLogger;
  private readonly observer: NbdObserver | undefined;
  private readonly tls:
    | { readonly mode: NbdTls["mode"]; readonly serverOptions: tls.TlsOptions }
    | undefined;
  private readonly server: net.Server;
  private readonly connections = new Set<NbdConnection>();
  private readonly refusing = new Set<net.Socket>();
  private readonly gate: ListenerGate;
  private readonly timeouts: ConnectionTimeouts;
  private closing: Promise<void> | undefined;

  constructor(options: NbdServerOptions) {
    this.store = options.store;
    this.logger = options.logger ?? silentLogger;
    this.observer = options.observer;
    this.tls = options.tls && {
      mode: options.tls.mode,
      serverOptions: tlsServerOptions(options.tls.credentials),
    };
    // Half-open sockets stay open so that requests in flight can still reply after the client
    // has finished sending.
    this.gate =
      options.gate ??
      ListenerGate.alone("nbd", {
        maxConnections: MAX_CONNECTIONS,
        maxPerAddress: MAX_CONNECTIONS_PER_ADDRESS,
      });
    this.timeouts = {
      handshakeMs: options.timeouts?.handshakeMs ?? HANDSHAKE_TIMEOUT_MS,
      idleMs: options.timeouts?.idleMs ?? IDLE_TIMEOUT_MS,
    };
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.on("error", (error) => {
      this.logger.warn({ err: error }, "NBD server socket failed");
    });
  }

  /** Starts accepting; port 0 picks a free port. Resolves with the address actually bound. */
  listen(address: { host: string; port: number }): Promise<NbdAddress> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once("error", onError);
      this.server.listen(address.port, address.host, () => {
        this.server.off("error", onError);
        const bound = this.server.address() as net.AddressInfo;
        this.logger.info({ host: bound.address, port: bound.port }, "NBD server listening");
        resolve({ host: bound.address, port: bound.port });
      });
    });
  }

  /** What each open connection is doing (tests watch backpressure with it). */
  connectionStats(): ConnectionStats[] {
    return [...this.connections].map((connection) => connection.stats);
  }

  /** Stops accepting, lets the requests in flight finish and reply, and closes every connection. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    for (const socket of this.refusing) socket.destroy();
    await Promise.all([...this.connections].map((connection) => connection.shutdown()));
    await stopped;
    this.logger.info({}, "NBD server closed");
  }

  private accept(socket: net.Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    const refusal = this.gate.admit(socket);
    if (refusal !== undefined) {
      if (refusal.reason === "descriptors" || this.refusing.size >= MAX_REFUSING) socket.destroy();
      else this.refuse(socket, refusal.message);
      return;
    }
    try {
      const connection = new NbdConnection(socket, {
        store: this.store,
        exports: storeExports(this.store),
        logger: this.logger,
        observer: this.observer,
        timeouts: this.timeouts,
        onTimedOut: (phase) => this.gate.timedOut(phase),
        tls: this.tls,
      });
      this.connections.add(connection);
      connection.closed.then(() => this.connections.delete(connection));
    } catch (error) {
      this.logger.warn({ err: error }, "Cannot accept an NBD connection: internal error");
      socket.destroy();
    }
  }

  /** Tells a refused client why, in its handshake (refusal.ts), and closes the connection. */
  private refuse(socket: net.Socket, message: string): void {
    const refusal = new NbdRefusal(message);
    const received = new ReceiveBuffer();
    this.refusing.add(socket);
    const timer = setTimeout(() => socket.destroy(), REFUSAL_TIMEOUT_MS);
    socket.once("close", () => {
      clearTimeout(timer);
      this.refusing.delete(socket);
    });
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      for (;;) {
        const step = refusal.step(received);
        if (step.next === "wait") return;
        for (const reply of step.replies) socket.write(reply);
        if (step.next === "close") {
          socket.removeAllListeners("data");
          socket.end();
          return;
        }
      }
    });
    socket.write(refusal.greeting());
  }
}
