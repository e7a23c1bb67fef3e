// The API's one error edge: every refusal, whoever raised it (a route, the auth hook, schema
// validation, the body parser, the router), is translated here, once, into an HTTP status and
// `{ code, message }`. GsnapErrors keep their code and message; Fastify's client errors become
// REQUEST_INVALID; anything else is a bug, logged in full and answered with a generic INTERNAL
// message, so that no stack trace or internal detail reaches a client.

import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { actionOf, BODY_LIMIT_BYTES, quote } from "./api-context.js";

interface Translation {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

/** Why Fastify refused a request, by its error code; the action comes first in the message. */
const FASTIFY_REASONS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: `the body is larger than the limit of ${BODY_LIMIT_BYTES} bytes`,
  FST_ERR_CTP_INVALID_JSON_BODY: "the body is not valid JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "the body is empty but its Content-Type says JSON",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "the body's Content-Type is not application/json",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "the body's length differs from its Content-Length",
  FST_ERR_BAD_URL: "the URL is not validly percent-encoded",
  FST_ERR_MAX_PARAM_LENGTH: "a path parameter is too long",
};

/** Sends the translation of `error`; the error handler and Fastify's framework errors use it. */
export function handleError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const { status, code, message } = translate(error, request);
  if (code === "INTERNAL") {
    request.log.error({ err: error }, `internal error in ${request.method} ${request.url}`);
  } else {
    request.log.info({ code }, message);
  }
  if (code === "UNAUTHORIZED") reply.header("www-authenticate", 'Bearer realm="gsnap"');
  return reply.code(status).type("application/json; charset=utf-8").send({ code, message });
}

/** The not-found handler: refuses with ROUTE_NOT_FOUND, through handleError like the rest. */
export async function notFound(request: FastifyRequest): Promise<never> {
  throw new GsnapError(
    "ROUTE_NOT_FOUND",
    `Cannot ${request.method} ${quote(request.url)}: no such route; GET /openapi.json lists them`,
  );
}

function translate(error: FastifyError | Error, request: FastifyRequest): Translation {
  if (isGsnapError(error)) {
    return { status: error.httpStatus, code: error.code, message: error.message };
  }
  const action = actionOf(request);
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined && fastifyError.validation.length > 0) {
    return invalid(400, `Cannot ${action}: ${describeValidation(fastifyError)}`);
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const reason = FASTIFY_REASONS[fastifyError.code ?? ""] ?? "the request is malformed";
    return invalid(status, `Cannot ${action}: ${reason}`);
  }
  return {
    status: ERROR_CODES.INTERNAL.httpStatus,
    code: "INTERNAL",
    message: `Cannot ${action}: an internal error occurred; the server log has the details`,
  };
}

function invalid(status: number, message: string): Translation {
  return { status, code: "REQUEST_INVALID", message };
}

/** Names the field at fault, e.g. `body.cylinders must be integer`, from the first schema error. */
function describeValidation(error: Partial<FastifyError>): string {
  const [first] = error.validation ?? [];
  const path = [error.validationContext ?? "request", ...first.instancePath.split("/").slice(1)]
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .join(".");
  const params = first.params as Record<string, unknown>;
  switch (first.keyword) {
    case "required":
      return `${path}.${String(params.missingProperty)} is required`;
    case "additionalProperties":
      return `${path} has unknown property ${quote(String(params.additionalProperty))}`;
    case "type":
      return `${path} must be ${String(params.type)}`;
    default:
      return `${path} ${first.message ?? "is invalid"}`;
  }
}
