// The API's connection limits: how long a client may take to send a request (the handshake of
// HTTP) and may stay silent, and a cap on connections per client address and in all (the
// listener gate, src/limits). A connection over a cap gets one answer, 503 CONNECTION_LIMIT with
// the usual { code, message } body, to its first request, and is closed; one past the process's
// descriptor budget is closed at once, since holding it is what the budget forbids.

import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { GsnapError } from "../errors/gsnap-error.js";
import type { ListenerGate, Refusal } from "../limits/listener-gate.js";

export interface ApiConnectionOptions {
  readonly gate: ListenerGate;
  /** Receiving a request's headers and body may take this long (Node's requestTimeout). */
  readonly handshakeTimeoutMs: number;
  /** A connection with no byte either way for this long is closed; 0: never. */
  readonly idleTimeoutMs: number;
}

/**
 * Node checks request timeouts on a timer, not per socket; this often (a quarter of the timeout,
 * within bounds) keeps the cut-off near the timeout at a cost of one pass over the connections.
 */
function checkingIntervalMs(handshakeTimeoutMs: number): number {
  return Math.min(5_000, Math.max(50, Math.floor(handshakeTimeoutMs / 4)));
}

/**
 * How long a connection may wait for its next request after a response: Fastify's default (longer
 * than the 60 s of the usual load balancers' own), or the idle timeout when that is shorter.
 */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * Refused connections waiting to be answered at once; past this a refused connection is closed
 * without an answer, so that a flood of refusals holds no more than this many descriptors.
 */
const MAX_REFUSING = 64;

/** A refused client has this long to send the request that gets the 503 before it is dropped. */
const REFUSAL_TIMEOUT_MS = 5_000;

/** Fastify's options for these limits. */
export function apiServerOptions(options: ApiConnectionOptions | undefined) {
  if (options === undefined) return {};
  return {
    requestTimeout: options.handshakeTimeoutMs,
    connectionTimeout: options.idleTimeoutMs,
    keepAliveTimeout:
      options.idleTimeoutMs > 0
        ? Math.min(KEEP_ALIVE_TIMEOUT_MS, options.idleTimeoutMs)
        : KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: options.handshakeTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(options.handshakeTimeoutMs),
    },
  };
}

/** Admits connections through the gate, answers refused ones, counts timeouts. */
export function guardConnections(app: FastifyInstance, options: ApiConnectionOptions): void {
  const { gate } = options;
  const refused = new WeakMap<Socket, Refusal>();
  let refusing = 0;
  // A connection that has been answered and waits for its next request ends at the keep-alive
  // timeout, as HTTP expects: that is no timeout to count. One that never asked, or whose request
  // stalled, is.
  const answered = new WeakSet<Socket>();
  const asking = new WeakSet<Socket>();
  app.server.on("connection", (socket: Socket) => {
    const refusal = gate.admit(socket);
    if (refusal === undefined) return;
    if (refusal.reason === "descriptors" || refusing >= MAX_REFUSING) {
      socket.destroy();
      return;
    }
    refused.set(socket, refusal);
    refusing += 1;
    const timer = setTimeout(() => socket.destroy(), REFUSAL_TIMEOUT_MS);
    timer.unref();
    socket.once("close", () => {
      clearTimeout(timer);
      refusing -= 1;
    });
  });
  // With a listener here, Node leaves the idle socket to us instead of destroying it itself.
  app.server.on("timeout", (socket: Socket) => {
    if (answered.has(socket) && !asking.has(socket)) {
      socket.destroy();
      return;
    }
    gate.timedOut("idle");
    app.log.info(
      { peer: socket.remoteAddress },
      `API connection from ${socket.remoteAddress} closed: silent for ${options.idleTimeoutMs} ms`,
    );
    socket.destroy();
  });
  app.server.on("clientError", (error: NodeJS.ErrnoException) => {
    if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") gate.timedOut("handshake");
  });
  app.addHook("onResponse", async (request) => {
    asking.delete(request.raw.socket);
    answered.add(request.raw.socket);
  });
  app.addHook("onRequest", async (request, reply) => {
    asking.add(request.raw.socket);
    const refusal = refused.get(request.raw.socket);
    if (refusal === undefined) return;
    reply.header("connection", "close");
    throw new GsnapError("CONNECTION_LIMIT", refusal.message);
  });
}
