// The snap route: copies the mapping of a source extent into a target volume, in one store
// transaction. The texts are parsed by geometry/ and checked by the store, so every refusal keeps
// its own code (EXTENT_MALFORMED, EXTENT_SIZE_MISMATCH, EXTENTS_OVERLAP, VOLUME_NOT_FOUND...).

import type { FastifyInstance } from "fastify";
import { GsnapError } from "../errors/gsnap-error.js";
import { formatExtentList } from "../geometry/address.js";
import { parseVolumeExtents, type VolumeExtents } from "../geometry/volume-extents.js";
import type { ApiContext } from "./api-context.js";
import { ERROR_RESPONSES, NO_QUERY } from "./api-schemas.js";
import { refusePaired } from "./pair-guard.js";

interface SnapBody {
  source: string;
  target: string;
}

const SNAP_BODY = {
  type: "object",
  properties: {
    source: { type: "string", description: "VOLSER:C.H-C.H[+C.H-C.H...], e.g. VOL001:0.0-9.14" },
    target: {
      type: "string",
      description: "VOLSER (same addresses) or VOLSER:C.H-C.H[+...] (as many tracks as the source)",
    },
  },
  required: ["source", "target"],
  additionalProperties: false,
} as const;

const SNAP_RESULT = {
  type: "object",
  properties: {
    source: { type: "string" },
    target: { type: "string" },
    tracks: { type: "integer", description: "tracks whose mapping was copied" },
  },
  required: ["source", "target", "tracks"],
} as const;

function format(side: VolumeExtents): string {
  return side.extents === undefined
    ? side.volser
    : `${side.volser}:${formatExtentList(side.extents)}`;
}

export function snapRoutes(app: FastifyInstance, { store, pairs }: ApiContext): void {
  app.post<{ Body: SnapBody }>(
    "/v1/snap",
    {
      config: { action: "snap" },
      schema: {
        summary: "Snaps source extents into a target volume: metadata only, all or nothing",
        tags: ["snap"],
        querystring: NO_QUERY,
        body: SNAP_BODY,
        response: { 200: SNAP_RESULT, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const source = parseVolumeExtents(request.body.source);
      const target = parseVolumeExtents(request.body.target);
      if (source.extents === undefined) {
        throw new GsnapError(
          "REQUEST_INVALID",
          `Cannot snap ${source.volser} to ${format(target)}: the source names no extents; ` +
            `write it as VOLSER:C.H-C.H, e.g. ${source.volser}:0.0-9.14`,
        );
      }
      refusePaired(pairs, {
        volser: target.volser,
        action: `snap ${format(source)} to ${format(target)}`,
      });
      const { tracks } = await store.snap({
        source: { volser: source.volser, extents: source.extents },
        target,
      });
      return { source: format(source), target: format(target), tracks };
    },
  );
}
