// Replication pair routes: establish, list, show, suspend, resume and terminate pairs. The work is
// the PairService's (pprc/); without one every pair route answers PATHS_UNAVAILABLE.

import type { FastifyInstance } from "fastify";
import { checkVolser } from "../geometry/names.js";
import type { EstablishPairRequest, PairService } from "../pprc/pair-service.js";
import { ERROR_RESPONSES, JOB_REF_SCHEMA, NO_QUERY, VOLSER_PARAMS } from "./api-schemas.js";
import { refuseBody } from "./refuse-body.js";
import { requireService } from "./require-service.js";

const ESTABLISH_BODY = {
  type: "object",
  properties: {
    volser: { type: "string", description: "the local volume, the primary" },
    secondary: { type: "string", description: "the remote volume, SERIAL.SSID.VOLSER" },
    mode: { type: "string", enum: ["sync", "copy"], description: "sync mirrors each write" },
    critical: {
      type: "boolean",
      description: "sync only: while suspended, host writes to the primary fail",
    },
  },
  required: ["volser", "secondary", "mode"],
  additionalProperties: false,
} as const;

const PAIR_INFO_SCHEMA = {
  type: "object",
  properties: {
    volser: { type: "string", description: "the local volume" },
    role: { type: "string", enum: ["primary", "secondary"] },
    primary: { type: "string", description: "SERIAL.SSID.VOLSER" },
    secondary: { type: "string", description: "SERIAL.SSID.VOLSER" },
    mode: { type: "string", enum: ["sync", "copy"] },
    critical: { type: "boolean" },
    state: { type: "string", enum: ["simplex", "pending", "duplex", "suspended"] },
    reason: {
      type: "string",
      enum: ["operator", "link failure", "secondary error", "primary restart"],
      description: "why a suspended pair is suspended",
    },
    since: { type: "string", format: "date-time" },
    tracksTotal: { type: "integer" },
    tracksOutOfSync: {
      type: ["integer", "null"],
      description: "tracks the secondary lacks; null on a secondary, which does not know them",
    },
    tracksToCopy: {
      type: ["integer", "null"],
      description:
        "the copy's work: out of sync when the pair last became pending, plus those marked " +
        "since; tracksToCopy - tracksOutOfSync are copied; null on a secondary",
    },
    bytesSent: { type: "integer", description: "sent (primary) or stored (secondary)" },
    rateBytesPerSecond: { type: "number" },
    etaSeconds: { type: ["number", "null"], description: "null when idle or unknown" },
    job: {
      ...JOB_REF_SCHEMA,
      description:
        "the GSC job whose copy the pair is (absent for any other pair); known on the primary, " +
        "and on the secondary when its volume is the job's S'",
    },
  },
  required: [
    "volser",
    "role",
    "primary",
    "secondary",
    "mode",
    "critical",
    "state",
    "since",
    "tracksTotal",
    "tracksOutOfSync",
    "tracksToCopy",
    "bytesSent",
    "rateBytesPerSecond",
    "etaSeconds",
  ],
} as const;

type VolserRequest = { Params: { volser: string } };

export function pairRoutes(app: FastifyInstance, pairs: PairService | undefined): void {
  const service = requireService(pairs, "replication pairs");
  const volserRoute = (summary: string, response: object) => ({
    preValidation: refuseBody,
    schema: {
      summary: `${summary} Takes no body.`,
      tags: ["pairs"],
      params: VOLSER_PARAMS,
      querystring: NO_QUERY,
      response: { ...response, ...ERROR_RESPONSES },
    },
  });

  app.get(
    "/v1/pairs",
    {
      config: { action: "list pairs" },
      schema: {
        summary: "Every pair this system is part of, primary or secondary, with its progress",
        tags: ["pairs"],
        querystring: NO_QUERY,
        response: { 200: { type: "array", items: PAIR_INFO_SCHEMA }, ...ERROR_RESPONSES },
      },
    },
    async () => service("list pairs").list(),
  );

  app.get<VolserRequest>(
    "/v1/pairs/:volser",
    {
      config: { action: "show a pair" },
      ...volserRoute("The pair of one local volume.", { 200: PAIR_INFO_SCHEMA }),
    },
    async (request) => service("show a pair").show(checkVolser(request.params.volser)),
  );

  app.post<{ Body: EstablishPairRequest }>(
    "/v1/pairs",
    {
      config: { action: "establish a pair" },
      schema: {
        summary:
          "Pairs a local volume with a remote one; answers pending once the secondary agreed",
        tags: ["pairs"],
        querystring: NO_QUERY,
        body: ESTABLISH_BODY,
        response: { 201: PAIR_INFO_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const pair = await service("establish a pair").establish(request.body);
      return reply.code(201).send(pair);
    },
  );

  app.post<VolserRequest>(
    "/v1/pairs/:volser/suspend",
    {
      config: { action: "suspend a pair" },
      ...volserRoute("Stops mirroring; the primary records changed tracks.", {
        200: PAIR_INFO_SCHEMA,
      }),
    },
    async (request) => service("suspend a pair").suspend(checkVolser(request.params.volser)),
  );

  app.post<VolserRequest>(
    "/v1/pairs/:volser/resume",
    {
      config: { action: "resume a pair" },
      ...volserRoute("Copies the changed tracks of a suspended pair, then mirrors again.", {
        200: PAIR_INFO_SCHEMA,
      }),
    },
    async (request) => service("resume a pair").resume(checkVolser(request.params.volser)),
  );

  app.delete<VolserRequest>(
    "/v1/pairs/:volser",
    {
      config: { action: "terminate a pair" },
      ...volserRoute("Ends the pair here and, from the primary, on the secondary.", {
        204: { type: "null", description: "Terminated" },
      }),
    },
    async (request, reply) => {
      await service("terminate a pair").terminate(checkVolser(request.params.volser));
      return reply.code(204).send();
    },
  );
}
