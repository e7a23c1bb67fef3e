// The initiator's side of a peer link: connects to HOST:PORT over TCP or TLS and runs the
// handshake, naming the serial it expects to find there. Resolves only with an authenticated
// connection; every failure is a typed GsnapError (LINK_DOWN when the peer cannot be reached).

import { readFile } from "node:fs/promises";
import net, { type Socket } from "node:net";
import tls from "node:tls";
import { GsnapError } from "../errors/gsnap-error.js";
import { LinkConnection, linkReads } from "./link-connection.js";
import { type LinkLogger, silentLinkLogger } from "./link-logger.js";
import type { LinkSecret } from "./link-secrets.js";
import type { SocketReads } from "./socket-reads.js";

/** How to check the peer's certificate. */
export interface LinkTlsClientOptions {
  /** PEM file of the CA (or the peer's self-signed certificate) to trust; default: the system's. */
  readonly caPath?: string;
  /** Host name the certificate must name; default: `host`. */
  readonly servername?: string;
}

export interface ConnectLinkOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: LinkSecret;
  readonly serial: string;
  readonly expectSerial: string;
  readonly ssids?: readonly string[];
  readonly versions?: readonly number[];
  readonly tls?: LinkTlsClientOptions;
  readonly logger?: LinkLogger;
  readonly handshakeTimeoutMs?: number;
}

export async function connectLink(options: ConnectLinkOptions): Promise<LinkConnection> {
  // A TCP socket reads into the link's own buffers (socket-reads.ts); a TLS one cannot.
  const reads = options.tls ? undefined : linkReads();
  const socket = await openSocket(options, reads);
  return LinkConnection.establish(
    socket,
    {
      role: "initiator",
      secret: options.secret,
      serial: options.serial,
      expectSerial: options.expectSerial,
      ssids: options.ssids,
      versions: options.versions,
      logger: options.logger ?? silentLinkLogger,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
    },
    reads,
  );
}

async function openSocket(options: ConnectLinkOptions, reads?: SocketReads): Promise<Socket> {
  const where = `${options.host}:${options.port}`;
  const ca = options.tls?.caPath === undefined ? undefined : await readFile(options.tls.caPath);
  return new Promise<Socket>((resolve, reject) => {
    const ready = options.tls ? "secureConnect" : "connect";
    const socket = options.tls
      ? tls.connect({
          host: options.host,
          port: options.port,
          ca,
          // SNI names hosts, never addresses (RFC 6066); an address is checked against the
          // certificate's IP subject alternative names instead.
          servername: options.tls.servername ?? (net.isIP(options.host) ? undefined : options.host),
        })
      : net.connect({ host: options.host, port: options.port, onread: reads?.onread });
    const onError = (error: Error): void => {
      socket.destroy();
      reject(
        new GsnapError("LINK_DOWN", `Cannot connect link to ${where}: ${error.message}`, {
          cause: error,
        }),
      );
    };
    socket.once("error", onError);
    socket.once(ready, () => {
      socket.off("error", onError);
      resolve(socket);
    });
  });
}
