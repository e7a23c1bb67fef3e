// NBD over TLS: the server's TLS settings (PSK or X.509) and the upgrade of a connection's plain
// socket to TLS after its NBD_OPT_STARTTLS was acknowledged. The handshake state machine decides
// when; this runs the TLS handshake on the same socket.

import type net from "node:net";
import tls from "node:tls";
import type { NbdTlsMode } from "./handshake.js";

export interface NbdTls {
  /** "on": STARTTLS offered, plain clients served too; "require": nothing served before TLS. */
  readonly mode: Exclude<NbdTlsMode, "off">;
  /** What authenticates: pre-shared keys, or a certificate (and a CA that signs clients'). */
  readonly credentials: NbdTlsCredentials;
}

export type NbdTlsCredentials =
  | { readonly kind: "psk"; readonly keys: ReadonlyMap<string, Buffer> }
  | {
      readonly kind: "x509";
      readonly cert: Buffer;
      readonly key: Buffer;
      /** Given: clients must present a certificate this CA signed. */
      readonly ca?: Buffer;
    };

/**
 * The Node TLS server options of the credentials. PSK works over TLS 1.3 (OpenSSL takes the PSK
 * callback for its SHA-256 suites; GnuTLS clients, libnbd's and qemu's, negotiate it) and over
 * TLS 1.2, where OpenSSL offers no PSK suite unless asked: "PSK" names the ones GnuTLS offers with
 * PSK credentials (ECDHE-PSK, DHE-PSK, PSK with AES-GCM and ChaCha20).
 */
export function tlsServerOptions(credentials: NbdTlsCredentials): tls.TlsOptions {
  if (credentials.kind === "psk") {
    const { keys } = credentials;
    return {
      ciphers: "PSK",
      pskCallback: (_socket, identity) => keys.get(identity) ?? null,
    };
  }
  const verifyClients = credentials.ca !== undefined;
  return {
    cert: credentials.cert,
    key: credentials.key,
    ca: credentials.ca,
    requestCert: verifyClients,
    rejectUnauthorized: verifyClients,
  };
}

/**
 * Runs the server side of a TLS handshake on a connected socket and resolves with the TLS socket
 * once the client is authenticated (its key or certificate checked); rejects when the handshake
 * fails. A tls.Server per upgrade, fed the socket as a connection, because that is the one public
 * way to get Node's checks of client certificates; it never listens.
 */
export function upgradeToTls(socket: net.Socket, options: tls.TlsOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const server = tls.createServer(options);
    server.once("secureConnection", (secure: tls.TLSSocket) => resolve(secure));
    server.once("tlsClientError", (error: Error) => reject(error));
    server.emit("connection", socket);
  });
}
