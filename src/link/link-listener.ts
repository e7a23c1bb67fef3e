// Listens for peer links on HOST:PORT, over TCP or TLS, runs the responder's handshake on each
// connection and hands only authenticated connections to a callback. A peer that fails the
// handshake (no secret, wrong serial, garbage) is refused and logged; the listener keeps serving.

import { readFile } from "node:fs/promises";
import net, { type AddressInfo, type Socket } from "node:net";
import tls from "node:tls";
import { LinkConnection, linkReads } from "./link-connection.js";
import type { LinkLogger } from "./link-logger.js";
import { adoptReads } from "./socket-reads.js";

/** Certificate and key files for a TLS listener, PEM. */
export interface LinkTlsServerOptions {
  readonly certPath: string;
  readonly keyPath: string;
}

export interface ListenLinkOptions {
  readonly host: string;
  /** 0 picks a free port; `address` then says which. */
  readonly port: number;
  readonly secret: string;
  readonly serial: string;
  readonly ssids?: readonly string[];
  readonly tls?: LinkTlsServerOptions;
  readonly logger: LinkLogger;
  readonly handshakeTimeoutMs?: number;
  /** The protocol versions to speak; the default is every version this build has (tests: older). */
  readonly versions?: readonly number[];
  readonly onConnection: (connection: LinkConnection) => void;
}

export interface LinkListener {
  readonly address: { readonly host: string; readonly port: number };
  /** Stops listening and closes every connection it accepted. */
  close(): Promise<void>;
}

export async function listenLink(options: ListenLinkOptions): Promise<LinkListener> {
  const sockets = new Set<Socket>();
  const accept = (accepted: Socket): void => {
    // A TCP connection reads into the link's own buffers (socket-reads.ts); a TLS one cannot.
    const reads = options.tls ? undefined : linkReads();
    const adopted = reads === undefined ? undefined : adoptReads(accepted, reads);
    const socket = adopted ?? accepted;
    if (adopted === undefined) socket.resume();
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    LinkConnection.establish(
      socket,
      {
        role: "responder",
        secret: options.secret,
        serial: options.serial,
        ssids: options.ssids,
        logger: options.logger,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        versions: options.versions,
      },
      adopted === undefined ? undefined : reads,
    ).then(options.onConnection, () => {
      // The connection logged why it refused the peer; nothing more to do.
    });
  };
  const server = options.tls
    ? tls.createServer(
        {
          cert: await readFile(options.tls.certPath),
          key: await readFile(options.tls.keyPath),
        },
        accept,
      )
    : // Paused until accept() moves the socket to one that reads into the link's buffers.
      net.createServer({ pauseOnConnect: true }, accept);
  // A TLS peer that fails its own handshake never reaches accept(): log it and carry on.
  server.on("tlsClientError", (error: Error, socket: Socket) => {
    options.logger.warn(
      { peer: `${socket.remoteAddress}:${socket.remotePort}` },
      `link refused: TLS failed: ${error.message}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => options.logger.warn({}, `link listener error: ${error.message}`));
  const bound = server.address() as AddressInfo;
  options.logger.info(
    { host: bound.address, port: bound.port, tls: !!options.tls },
    "link listening",
  );
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
