// The gsnap API as the link benchmark (bench/link.ts) uses it: calls with the bearer token that
// throw with the exact answer of a failed call, and a poll until a pair is duplex.

import type { PairInfo } from "../src/pprc/pair-service.js";
import type { ServeProcess } from "../src/testing/serve-process.js";

/** A GET every 20 ms: the timing error of a copy, and the load the polling puts on the server. */
export const POLL_INTERVAL_MS = 20;
/** 30 minutes, 2 GiB at 1.1 MiB/s: a pair that has not reached duplex by then is stuck. */
const DUPLEX_TIMEOUT_MS = 30 * 60_000;

/** Calls the API; any answer but 2xx throws with the method, path, status and body as sent. */
export async function api<T>(
  server: ServeProcess,
  request: { method: string; path: string; body?: unknown },
): Promise<T> {
  const response = await fetch(`${server.apiUrl}${request.path}`, {
    method: request.method,
    headers: {
      authorization: `Bearer ${server.token}`,
      ...(request.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${request.method} ${request.path} answered ${response.status}: ${text}`);
  }
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

export async function pairInfo(server: ServeProcess, volser: string): Promise<PairInfo> {
  return api<PairInfo>(server, { method: "GET", path: `/v1/pairs/${volser}` });
}

/** Polls until the pair is duplex; a suspended pair (or a timeout) throws with its record. */
export async function waitForDuplex(server: ServeProcess, volser: string): Promise<PairInfo> {
  const started = Date.now();
  for (;;) {
    const pair = await pairInfo(server, volser);
    if (pair.state === "duplex") return pair;
    if (pair.state === "suspended" || Date.now() - started > DUPLEX_TIMEOUT_MS) {
      throw new Error(`Pair ${volser} did not reach duplex: ${JSON.stringify(pair)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
