// A preValidation hook for the routes that change something but take no body (DELETE of a volume,
// POST /v1/fsck): a body there is a client mistake (a wrong route, a wrong method), so it is
// refused before the route acts, rather than ignored while the route goes ahead.

import type { FastifyRequest } from "fastify";
import { GsnapError } from "../errors/gsnap-error.js";
import { actionOf } from "./api-context.js";

export async function refuseBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) return;
  throw new GsnapError(
    "REQUEST_INVALID",
    `Cannot ${actionOf(request)}: this route takes no body, but one was sent`,
  );
}
