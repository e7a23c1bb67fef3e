// The allocation picture of a volume: per bucket of cylinders, how many of its tracks are mapped,
// for the dashboard's picture of which cylinders hold data. The store answers per track range;
// asking it one bucket at a time keeps memory bounded even for the largest 3390-A.

import type { FastifyInstance } from "fastify";
import { checkVolser } from "../geometry/names.js";
import type { ApiContext } from "./api-context.js";
import { ERROR_RESPONSES, NO_QUERY, VOLSER_PARAMS } from "./api-schemas.js";
import { cylinderBuckets, MAX_BUCKETS } from "./cylinder-buckets.js";

const ALLOCATION_SCHEMA = {
  type: "object",
  properties: {
    volser: { type: "string" },
    cylinders: { type: "integer" },
    heads: { type: "integer" },
    mappedTracks: { type: "integer", description: "Mapped tracks of the whole volume" },
    buckets: {
      type: "array",
      maxItems: MAX_BUCKETS,
      description: "Consecutive ranges of cylinders, in order, covering the volume",
      items: {
        type: "object",
        properties: {
          firstCylinder: { type: "integer" },
          cylinderCount: { type: "integer" },
          trackCount: { type: "integer" },
          mappedTracks: { type: "integer" },
        },
        required: ["firstCylinder", "cylinderCount", "trackCount", "mappedTracks"],
      },
    },
  },
  required: ["volser", "cylinders", "heads", "mappedTracks", "buckets"],
} as const;

export function allocationRoutes(app: FastifyInstance, { store }: ApiContext): void {
  app.get<{ Params: { volser: string } }>(
    "/v1/volumes/:volser/allocation",
    {
      config: { action: "show a volume's allocation" },
      schema: {
        summary: `Mapped tracks per range of cylinders, in at most ${MAX_BUCKETS} ranges`,
        tags: ["volumes"],
        params: VOLSER_PARAMS,
        querystring: NO_QUERY,
        response: { 200: ALLOCATION_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const volume = store.showVolume(checkVolser(request.params.volser));
      // Everything below is synchronous, so the buckets are of one moment.
      const buckets = cylinderBuckets(volume.cylinders).map((bucket) => {
        const trackCount = bucket.cylinderCount * volume.heads;
        const runs = store.allocation(volume.volser, {
          firstTrack: bucket.firstCylinder * volume.heads,
          count: trackCount,
        });
        const mappedTracks = runs.reduce((sum, run) => sum + (run.mapped ? run.count : 0), 0);
        return { ...bucket, trackCount, mappedTracks };
      });
      const mappedTracks = buckets.reduce((sum, bucket) => sum + bucket.mappedTracks, 0);
      return {
        volser: volume.volser,
        cylinders: volume.cylinders,
        heads: volume.heads,
        mappedTracks,
        buckets,
      };
    },
  );
}
