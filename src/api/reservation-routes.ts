// Reservation routes: the GSC reservations peers' jobs hold on this system (docs/gsc.md,
// "Reservations"), listed, and released by an administrator when a job's source is gone for good.
// The work is the Reservations' (gsc/); without them every route answers PATHS_UNAVAILABLE.

import type { FastifyInstance } from "fastify";
import { checkVolser } from "../geometry/names.js";
import type { Reservations } from "../gsc/reservations.js";
import { ERROR_RESPONSES, NO_QUERY, VOLSER_PARAMS } from "./api-schemas.js";
import { refuseBody } from "./refuse-body.js";
import { requireService } from "./require-service.js";

const RESERVATION_SCHEMA = {
  type: "object",
  properties: {
    job: { type: "string", description: "the job id on its system" },
    peer: { type: "string", description: "the serial of the job's system, as its link proved it" },
    volser: { type: "string" },
    extents: { type: "string", description: "C.H-C.H[+...]; absent: the whole volume" },
    created: { type: "boolean", description: "made for the job, deleted when released" },
    since: { type: "string", format: "date-time" },
    lastContactAt: { type: "string", format: "date-time", description: "the job's last request" },
    expiresAt: { type: "string", format: "date-time", description: "released then if silent" },
  },
  required: ["job", "peer", "volser", "created", "since", "lastContactAt", "expiresAt"],
} as const;

const RELEASED_SCHEMA = {
  type: "object",
  properties: {
    released: {
      type: "array",
      items: {
        type: "object",
        properties: {
          job: { type: "string" },
          peer: { type: "string" },
          volser: { type: "string" },
          extents: { type: "string" },
          created: { type: "boolean" },
        },
        required: ["job", "peer", "volser", "created"],
      },
    },
    deleted: { type: "array", items: { type: "string" }, description: "volumes deleted" },
  },
  required: ["released", "deleted"],
} as const;

type VolserRequest = { Params: { volser: string } };

export function reservationRoutes(
  app: FastifyInstance,
  reservations: Reservations | undefined,
): void {
  const service = requireService(reservations, "GSC reservations");

  app.get(
    "/v1/reservations",
    {
      config: { action: "list reservations" },
      schema: {
        summary: "Every reservation a peer's GSC job holds here, oldest first",
        tags: ["reservations"],
        querystring: NO_QUERY,
        response: { 200: { type: "array", items: RESERVATION_SCHEMA }, ...ERROR_RESPONSES },
      },
    },
    async () => service("list reservations").list(),
  );

  app.post<VolserRequest>(
    "/v1/reservations/:volser/release",
    {
      config: { action: "release a reservation" },
      preValidation: refuseBody,
      schema: {
        summary:
          "Releases every reservation of the volume as the jobs' RELEASE would: ends a pair left on it, deletes it if it was made for the job. Takes no body.",
        tags: ["reservations"],
        params: VOLSER_PARAMS,
        querystring: NO_QUERY,
        response: { 200: RELEASED_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const volser = checkVolser(request.params.volser);
      return service("release a reservation").releaseVolume(volser);
    },
  );
}
