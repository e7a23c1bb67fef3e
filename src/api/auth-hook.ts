// The bearer token check: every route but the public ones (/healthz) needs
// `Authorization: Bearer TOKEN`. Tokens are compared as SHA-256 digests with timingSafeEqual, so
// the time taken says nothing about how much of a guess was right, nor about the token's length.

import assert from "node:assert";
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { GsnapError } from "../errors/gsnap-error.js";
import { actionOf } from "./api-context.js";

const BEARER_PATTERN = /^Bearer +(\S+) *$/i;

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** An onRequest hook that refuses, with UNAUTHORIZED, a request without the right token. */
export function authHook(token: string): onRequestAsyncHookHandler {
  assert(token.length > 0, "the API token must not be empty");
  const expected = digest(token);
  return async (request: FastifyRequest) => {
    const inUrl = tokenInUrl(request.url);
    if (inUrl !== undefined) {
      // Refused even where it would be right: URLs end up in logs, proxies and shell history.
      throw new GsnapError(
        "UNAUTHORIZED",
        `Cannot ${actionOf(request)}: a token in the URL ("${inUrl}=") is refused; send it in the Authorization header as "Bearer <token>"`,
      );
    }
    if (request.routeOptions.config.public === true) return;
    const action = actionOf(request);
    const header = request.headers.authorization;
    if (header === undefined) {
      throw new GsnapError(
        "UNAUTHORIZED",
        `Cannot ${action}: the request has no Authorization header; send "Bearer <token>"`,
      );
    }
    const match = BEARER_PATTERN.exec(header);
    if (match === null) {
      throw new GsnapError(
        "UNAUTHORIZED",
        `Cannot ${action}: the Authorization header is not "Bearer <token>"`,
      );
    }
    if (!timingSafeEqual(digest(match[1]), expected)) {
      throw new GsnapError("UNAUTHORIZED", `Cannot ${action}: the bearer token is wrong`);
    }
  };
}

/** Query parameters that clients use to carry a token in the URL. */
const TOKEN_PARAMETERS = new Set(["token", "access_token", "api_key", "apikey", "bearer"]);

/** The name of a query parameter of `url` that carries a token, if one does. Pure. */
export function tokenInUrl(url: string): string | undefined {
  const at = url.indexOf("?");
  if (at < 0) return undefined;
  for (const name of new URLSearchParams(url.slice(at + 1)).keys()) {
    if (TOKEN_PARAMETERS.has(name.toLowerCase())) return name;
  }
  return undefined;
}
