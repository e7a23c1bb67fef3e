// Replication path routes: establish, list and remove paths to remote subsystems. The work is the
// PathService's (pprc/); without one (an API built for tests of other parts) every path route
// answers PATHS_UNAVAILABLE.

import type { FastifyInstance } from "fastify";
import type { PathService } from "../pprc/path-service.js";
import { MAX_LINKS_PER_PATH } from "../pprc/path-spec.js";
import { ERROR_RESPONSES, NO_QUERY } from "./api-schemas.js";
import { refuseBody } from "./refuse-body.js";
import { requireService } from "./require-service.js";

interface EstablishBody {
  ssid: string;
  to: string;
  links: string[];
  keepFailed?: boolean;
}

const ESTABLISH_BODY = {
  type: "object",
  properties: {
    ssid: {
      type: "string",
      description: "the local subsystem, 4 hex digits, one of this system's",
    },
    to: { type: "string", description: "the remote subsystem, SERIAL.SSID" },
    links: {
      type: "array",
      items: { type: "string" },
      description: `1 to ${MAX_LINKS_PER_PATH} link addresses HOST:PORT of the remote system`,
    },
    keepFailed: {
      type: "boolean",
      description:
        "keep the path when no link comes up at the first try (its links go on trying); by default it is removed and the request fails with PATH_FAILED",
    },
  },
  required: ["ssid", "to", "links"],
  additionalProperties: false,
} as const;

const LINK_STATUS_SCHEMA = {
  type: "object",
  properties: {
    address: { type: "string" },
    state: { type: "string", enum: ["established", "failed"] },
    reason: { type: "string", description: "why a failed link is failed" },
    since: { type: "string", format: "date-time" },
  },
  required: ["address", "state", "since"],
} as const;

const PATH_INFO_SCHEMA = {
  type: "object",
  properties: {
    ssid: { type: "string" },
    remoteSerial: { type: "string" },
    remoteSsid: { type: "string" },
    state: { type: "string", enum: ["established", "degraded", "failed"] },
    links: { type: "array", items: LINK_STATUS_SCHEMA },
  },
  required: ["ssid", "remoteSerial", "remoteSsid", "state", "links"],
} as const;

const PATH_PARAMS = {
  type: "object",
  properties: {
    ssid: { type: "string", description: "the local subsystem, 4 hex digits" },
    to: { type: "string", description: "the remote subsystem, SERIAL.SSID" },
  },
  required: ["ssid", "to"],
  additionalProperties: false,
} as const;

export function pathRoutes(app: FastifyInstance, paths: PathService | undefined): void {
  const service = requireService(paths, "replication paths");

  app.get(
    "/v1/paths",
    {
      config: { action: "list paths" },
      schema: {
        summary: "Every replication path with its state and its links' states",
        tags: ["paths"],
        querystring: NO_QUERY,
        response: { 200: { type: "array", items: PATH_INFO_SCHEMA }, ...ERROR_RESPONSES },
      },
    },
    async () => service("list paths").list(),
  );

  app.post<{ Body: EstablishBody }>(
    "/v1/paths",
    {
      config: { action: "establish a path" },
      schema: {
        summary:
          "Establishes a path; answers after each link has been tried once, and fails with PATH_FAILED (keeping nothing) when none came up",
        tags: ["paths"],
        querystring: NO_QUERY,
        body: ESTABLISH_BODY,
        response: { 201: PATH_INFO_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const path = await service("establish a path").establish(request.body);
      return reply.code(201).send(path);
    },
  );

  app.delete<{ Params: { ssid: string; to: string } }>(
    "/v1/paths/:ssid/:to",
    {
      config: { action: "remove a path" },
      preValidation: refuseBody,
      schema: {
        summary: "Removes a path and closes its links. Takes no body.",
        tags: ["paths"],
        params: PATH_PARAMS,
        querystring: NO_QUERY,
        response: { 204: { type: "null", description: "Removed" }, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await service("remove a path").remove(request.params);
      return reply.code(204).send();
    },
  );
}
