// Volume routes: list, create, show (with allocation), delete. A new volume's SSID must be one of
// the system's subsystems; without one it goes to the first.

import type { FastifyInstance } from "fastify";
import { GsnapError } from "../errors/gsnap-error.js";
import { checkSsid, checkVolser } from "../geometry/names.js";
import type { ApiContext, SystemInfo } from "./api-context.js";
import {
  ERROR_RESPONSES,
  NO_QUERY,
  VOLSER_PARAMS,
  VOLUME_INFO_SCHEMA,
  VOLUME_USAGE_SCHEMA,
} from "./api-schemas.js";
import { refusePaired } from "./pair-guard.js";
import { refuseBody } from "./refuse-body.js";

interface CreateVolumeBody {
  volser: string;
  ssid?: string;
  model?: string;
  cylinders?: number;
  trackSizeBytes?: number;
}

const CREATE_VOLUME_BODY = {
  type: "object",
  properties: {
    volser: { type: "string", description: "1 to 6 characters from A-Z 0-9 @ # $" },
    ssid: { type: "string", description: "4 hex digits, one of the system's; default the first" },
    model: { type: "string", description: "3390-1, -2, -3, -9, -27, -54 or -A; default 3390-3" },
    cylinders: { type: "integer", description: "required for 3390-A, up to 1,182,006" },
    trackSizeBytes: { type: "integer", description: "a multiple of 4096; default 57344" },
  },
  required: ["volser"],
  additionalProperties: false,
} as const;

/** The SSID a new volume goes to: the one asked for, if the system has it, else the first. */
export function subsystemFor(ssid: string | undefined, system: SystemInfo, volser: string): string {
  if (ssid === undefined) return system.ssids[0];
  const checked = checkSsid(ssid);
  if (!system.ssids.includes(checked)) {
    throw new GsnapError(
      "SSID_INVALID",
      `Cannot create volume "${volser}" in subsystem "${checked}": ` +
        `this system's subsystems are ${system.ssids.join(", ")}`,
    );
  }
  return checked;
}

export function volumeRoutes(app: FastifyInstance, { store, system, pairs }: ApiContext): void {
  app.get(
    "/v1/volumes",
    {
      config: { action: "list volumes" },
      schema: {
        summary: "Every volume of this storage system",
        tags: ["volumes"],
        querystring: NO_QUERY,
        response: { 200: { type: "array", items: VOLUME_INFO_SCHEMA }, ...ERROR_RESPONSES },
      },
    },
    async () => store.listVolumes(),
  );

  app.post<{ Body: CreateVolumeBody }>(
    "/v1/volumes",
    {
      config: { action: "create a volume" },
      schema: {
        summary: "Creates a thin volume",
        tags: ["volumes"],
        querystring: NO_QUERY,
        body: CREATE_VOLUME_BODY,
        response: { 201: VOLUME_INFO_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const volser = checkVolser(request.body.volser);
      const ssid = subsystemFor(request.body.ssid, system, volser);
      const volume = await store.createVolume({ ...request.body, volser, ssid });
      return reply.code(201).send(volume);
    },
  );

  app.get<{ Params: { volser: string } }>(
    "/v1/volumes/:volser",
    {
      config: { action: "show a volume" },
      schema: {
        summary: "A volume with its allocation (mapped tracks and their bytes)",
        tags: ["volumes"],
        params: VOLSER_PARAMS,
        querystring: NO_QUERY,
        response: { 200: VOLUME_USAGE_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request) => store.showVolume(checkVolser(request.params.volser)),
  );

  app.delete<{ Params: { volser: string } }>(
    "/v1/volumes/:volser",
    {
      config: { action: "delete a volume" },
      preValidation: refuseBody,
      schema: {
        summary: "Deletes a volume; its space comes back in the background. Takes no body.",
        tags: ["volumes"],
        params: VOLSER_PARAMS,
        querystring: NO_QUERY,
        response: { 204: { type: "null", description: "Deleted" }, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const volser = checkVolser(request.params.volser);
      refusePaired(pairs, { volser, action: `delete volume "${volser}"` });
      await store.deleteVolume(volser);
      return reply.code(204).send();
    },
  );
}
