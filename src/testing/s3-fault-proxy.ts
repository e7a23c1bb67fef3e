// An HTTP proxy between an S3 client and a real S3 endpoint (radosgw in the tests) that a test can
// turn bad at run time: answer the next requests with an S3 error (503 SlowDown, 500, ...), refuse
// and cut every connection, or hold each request before passing it on. Requests go through
// unchanged, the Host header included, so the client's SigV4 signatures still verify.

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface S3Fault {
  readonly status: number;
  /** The S3 error code in the XML body, e.g. "SlowDown", "InternalError". */
  readonly code: string;
}

export interface S3FaultProxy {
  /** The address clients use in place of the real endpoint, "http://127.0.0.1:PORT". */
  readonly endpoint: string;
  /** Answers the next `count` requests with `fault` instead of passing them on. */
  failNext(count: number, fault?: S3Fault): void;
  /** While down, new connections are cut at once and open ones are cut now. */
  down(isDown: boolean): void;
  /** Holds each request this long before passing it on (or failing it). */
  delayMs(ms: number): void;
  /** Requests that reached the proxy (not those cut while down). */
  readonly requestsSeen: number;
  /** Requests answered with a fault. */
  readonly faultsServed: number;
  close(): Promise<void>;
}

const SLOW_DOWN: S3Fault = { status: 503, code: "SlowDown" };

/** Starts a proxy on 127.0.0.1 to `target` ("http://127.0.0.1:7480"). */
export async function startS3FaultProxy(target: string): Promise<S3FaultProxy> {
  const targetUrl = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  let faultsLeft = 0;
  let fault = SLOW_DOWN;
  let isDown = false;
  let holdMs = 0;
  let requestsSeen = 0;
  let faultsServed = 0;

  const answerFault = (response: ServerResponse): void => {
    faultsServed += 1;
    const body =
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code>` +
      `<Message>fault injected by the test proxy</Message><RequestId>fault-proxy</RequestId></Error>`;
    response.writeHead(fault.status, {
      "content-type": "application/xml",
      "content-length": Buffer.byteLength(body),
    });
    response.end(body);
  };

  const forward = (request: IncomingMessage, response: ServerResponse): void => {
    const upstream = http.request(
      {
        protocol: targetUrl.protocol,
        hostname: targetUrl.hostname,
        port: targetUrl.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
        agent,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", () => response.destroy());
    response.on("close", () => upstream.destroy());
    request.pipe(upstream);
  };

  const server = http.createServer((request, response) => {
    requestsSeen += 1;
    const handle = (): void => {
      // The client gave up while the request was held.
      if (request.socket.destroyed) return;
      if (faultsLeft > 0) {
        faultsLeft -= 1;
        // Read the whole request first, as a real server does, so the client is not cut off
        // in the middle of sending a body.
        request.resume();
        request.on("end", () => answerFault(response));
        return;
      }
      forward(request, response);
    };
    if (holdMs > 0) setTimeout(handle, holdMs);
    else handle();
  });
  server.on("connection", (socket) => {
    if (isDown) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    failNext(count, newFault = SLOW_DOWN) {
      faultsLeft = count;
      fault = newFault;
    },
    down(value) {
      isDown = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    delayMs(ms) {
      holdMs = ms;
    },
    get requestsSeen() {
      return requestsSeen;
    },
    get faultsServed() {
      return faultsServed;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
