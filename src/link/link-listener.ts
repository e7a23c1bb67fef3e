// Listens for peer links on HOST:PORT, over TCP or TLS, runs the responder's handshake on each
// connection and hands only authenticated connections to a callback. A peer that fails the
// handshake (no secret, wrong serial, garbage) is refused and logged; the listener keeps serving.
// Its gate (src/limits) caps connections per peer address and in all: a connection over a cap is
// closed before a byte is read (the protocol has no frame to say why before the handshake; the
// log says it). An established connection that receives nothing for the idle timeout is closed:
// a live peer PINGs every few seconds (pprc/path-link.ts), so silence means it is gone.

import { readFile } from "node:fs/promises";
import net, { type AddressInfo, type Socket } from "node:net";
import tls from "node:tls";
import { ListenerGate } from "../limits/listener-gate.js";
import { LinkConnection, linkReads } from "./link-connection.js";
import type { LinkLogger } from "./link-logger.js";
import type { LinkSecret } from "./link-secrets.js";
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
  readonly secret: LinkSecret;
  readonly serial: string;
  readonly ssids?: readonly string[];
  readonly tls?: LinkTlsServerOptions;
  readonly logger: LinkLogger;
  readonly handshakeTimeoutMs?: number;
  /** Closes an established connection that receives nothing for this long; 0 or absent: never. */
  readonly idleTimeoutMs?: number;
  /** Caps connections; default a gate of its own with the default caps. */
  readonly gate?: ListenerGate;
  /** The protocol versions to speak; the default is every version this build has (tests: older). */
  readonly versions?: readonly number[];
  readonly onConnection: (connection: LinkConnection) => void;
}

export interface LinkListener {
  readonly address: { readonly host: string; readonly port: number };
  /** Stops listening and closes every connection it accepted. */
  close(): Promise<void>;
}

/**
 * Peer connections by default: a system keeps up to 8 links per path (DESIGN.md), so this serves
 * eight paths' worth of peers; per address, two full paths from one peer system.
 */
export const MAX_LINK_CONNECTIONS = 64;
export const MAX_LINK_CONNECTIONS_PER_ADDRESS = 16;

export async function listenLink(options: ListenLinkOptions): Promise<LinkListener> {
  const sockets = new Set<Socket>();
  const gate =
    options.gate ??
    ListenerGate.alone("link", {
      maxConnections: MAX_LINK_CONNECTIONS,
      maxPerAddress: MAX_LINK_CONNECTIONS_PER_ADDRESS,
    });
  /** Admits a TCP connection, before TLS or any read; false when it was refused and closed. */
  const admit = (raw: Socket): boolean => {
    if (gate.admit(raw) === undefined) return true;
    raw.destroy();
    return false;
  };
  const accept = (accepted: Socket): void => {
    // A TLS socket was admitted as TCP, before its TLS handshake (see the server below).
    if (!options.tls && !admit(accepted)) return;
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
        onHandshakeTimeout: () => gate.timedOut("handshake"),
        versions: options.versions,
      },
      adopted === undefined ? undefined : reads,
    ).then(
      (connection) => {
        watchIdle(socket, {
          idleTimeoutMs: options.idleTimeoutMs ?? 0,
          gate,
          logger: options.logger,
        });
        options.onConnection(connection);
      },
      () => {
        // The connection logged why it refused the peer; nothing more to do.
      },
    );
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
  // A TLS connection is admitted as it arrives, before the TLS handshake costs us anything; this
  // listener runs before the TLS server's own, which then finds the socket destroyed.
  if (options.tls) server.prependListener("connection", (raw: Socket) => void admit(raw));
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

/** Closes an established link that receives nothing for `idleTimeoutMs` (0: never). */
function watchIdle(
  socket: Socket,
  options: { idleTimeoutMs: number; gate: ListenerGate; logger: LinkLogger },
): void {
  if (options.idleTimeoutMs <= 0) return;
  let receivedBytes = socket.bytesRead;
  const timer = setInterval(() => {
    // Only what the peer sends counts: our own PONGs and replies say nothing of whether it lives.
    if (socket.bytesRead !== receivedBytes) {
      receivedBytes = socket.bytesRead;
      return;
    }
    clearInterval(timer);
    options.gate.timedOut("idle");
    options.logger.warn(
      { peer: `${socket.remoteAddress}:${socket.remotePort}` },
      `link closed: the peer sent nothing for ${options.idleTimeoutMs} ms`,
    );
    socket.destroy();
  }, options.idleTimeoutMs);
  timer.unref();
  socket.once("close", () => clearInterval(timer));
}
