// The NBD server, gsnap's host interface: one export per volume of the store, named by its
// VOLSER, over the fixed newstyle protocol (docs/nbd.md). It accepts connections and gives each
// its own NbdConnection; a failure on one connection never reaches the others or the server.

import net from "node:net";
import type tls from "node:tls";
import { NbdConnection } from "./connection.js";
import { storeExports } from "./export-directory.js";
import type { HostVolumes } from "./host-volumes.js";
import { type NbdTls, tlsServerOptions } from "./nbd-tls.js";
import { type NbdLogger, type NbdObserver, silentLogger } from "./observer.js";

export type { NbdLogger, NbdObserver } from "./observer.js";

/**
 * Connections served at once. Each may hold MAX_IN_FLIGHT_BYTES (64 MiB) of requests, so this
 * bounds the server's request memory at 4 GiB; it leaves room for a dozen multi-conn clients
 * (nbdcopy opens 4 connections, qemu up to 16).
 */
export const MAX_CONNECTIONS = 64;

export interface NbdServerOptions {
  readonly store: HostVolumes;
  readonly logger?: NbdLogger;
  readonly observer?: NbdObserver;
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
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.maxConnections = MAX_CONNECTIONS;
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
    await Promise.all([...this.connections].map((connection) => connection.shutdown()));
    await stopped;
    this.logger.info({}, "NBD server closed");
  }

  private accept(socket: net.Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    try {
      const connection = new NbdConnection(socket, {
        store: this.store,
        exports: storeExports(this.store),
        logger: this.logger,
        observer: this.observer,
        tls: this.tls,
      });
      this.connections.add(connection);
      connection.closed.then(() => this.connections.delete(connection));
    } catch (error) {
      this.logger.warn({ err: error }, "Cannot accept an NBD connection: internal error");
      socket.destroy();
    }
  }
}
