// How the CLI reaches a storage system's API: where (--api, GSNAP_API, the default) and with which
// token (--token, GSNAP_TOKEN, the token file in ./gsnap-data), and the one place that turns an
// API error reply into a GsnapError with the server's code.

import fs from "node:fs";
import path from "node:path";
import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import { GsnapError } from "../errors/gsnap-error.js";

export const DEFAULT_API_URL = "http://127.0.0.1:8480";
const DEFAULT_DATA_DIR = "./gsnap-data";
/** A request that takes longer than this has lost its server; no API call does heavy work. */
const REQUEST_TIMEOUT_MS = 60_000;

export interface ApiTarget {
  readonly url: string;
  readonly token: string | undefined;
  /** Where the URL and the token came from, for errors that would otherwise leave one guessing. */
  readonly sources?: { readonly url: string; readonly token: string };
}

export function resolveTarget(options: { api?: string; token?: string }): ApiTarget {
  const api = firstOf([
    [options.api, "--api"],
    [process.env.GSNAP_API, "GSNAP_API"],
    [DEFAULT_API_URL, "the default"],
  ]);
  const tokenFile = path.resolve(DEFAULT_DATA_DIR, "token");
  const token = firstOf([
    [options.token, "--token"],
    [process.env.GSNAP_TOKEN, "GSNAP_TOKEN"],
    [() => readTokenFile(tokenFile), `the file ${tokenFile}`],
    [undefined, `none (no --token, GSNAP_TOKEN or ${tokenFile})`],
  ]);
  return {
    url: (api.value as string).replace(/\/+$/, ""),
    token: token.value,
    sources: { url: api.source, token: token.source },
  };
}

/** The first of the candidates that gives a value (a function is called only when reached). */
function firstOf(candidates: [string | undefined | (() => string | undefined), string][]): {
  value: string | undefined;
  source: string;
} {
  for (const [candidate, source] of candidates) {
    const value = typeof candidate === "function" ? candidate() : candidate;
    if (value !== undefined) return { value, source };
  }
  const [, source] = candidates[candidates.length - 1];
  return { value: undefined, source };
}

function readTokenFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

export async function callApi<T>(
  target: ApiTarget,
  request: { method: "GET" | "POST" | "DELETE"; path: string; body?: unknown; timeoutMs?: number },
): Promise<T> {
  const headers = authHeaders(target);
  if (request.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`${target.url}${request.path}`, {
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs ?? REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw unreachable(target, error);
  }
  const text = await response.text();
  if (response.ok) return (text === "" ? undefined : parseJson(text)) as T;
  throw replyError(response, text, target);
}

/**
 * The GsnapError of an API error reply, with the server's code and message; a refused token
 * also names the server and where the token came from (another system's data dir under the
 * working directory, a stale GSNAP_TOKEN).
 */
export function replyError(response: Response, text: string, target?: ApiTarget): GsnapError {
  const body = text === "" ? undefined : parseJson(text);
  const reply = (body ?? {}) as { code?: string; message?: string };
  const code: ErrorCode =
    reply.code !== undefined && reply.code in ERROR_CODES ? (reply.code as ErrorCode) : "INTERNAL";
  const message = reply.message ?? `The server answered ${response.status} ${response.statusText}`;
  if (code !== "UNAUTHORIZED" || target?.sources === undefined)
    return new GsnapError(code, message);
  return new GsnapError(
    code,
    `${message} (server ${target.url}, from ${target.sources.url}; token from ${target.sources.token})`,
  );
}

/** Headers of a request to the API: the bearer token, when there is one. */
export function authHeaders(target: ApiTarget): Record<string, string> {
  return target.token === undefined ? {} : { authorization: `Bearer ${target.token}` };
}

/** SERVER_UNREACHABLE for a request that got no answer, with what went wrong. */
export function unreachable(target: ApiTarget, error: unknown): GsnapError {
  const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
  const from = target.sources === undefined ? "" : ` (from ${target.sources.url})`;
  return new GsnapError(
    "SERVER_UNREACHABLE",
    `Cannot reach the gsnap server at ${target.url}${from}: ${reason}`,
    { cause: error },
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}
