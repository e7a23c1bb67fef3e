// Routes about the store underneath the volumes: allocation statistics and the checker (fsck).

import type { FastifyInstance } from "fastify";
import type { ApiContext } from "./api-context.js";
import { COLLECTOR_SCHEMA, ERROR_RESPONSES, NO_QUERY } from "./api-schemas.js";
import { refuseBody } from "./refuse-body.js";

const STATS_SCHEMA = {
  type: "object",
  properties: {
    volumes: {
      type: "array",
      items: {
        type: "object",
        properties: {
          volser: { type: "string" },
          trackCount: { type: "integer" },
          sizeBytes: { type: "integer" },
          allocatedTracks: { type: "integer" },
          allocatedBytes: { type: "integer" },
        },
        required: ["volser", "trackCount", "sizeBytes", "allocatedTracks", "allocatedBytes"],
      },
    },
    store: {
      type: "object",
      properties: {
        volumes: { type: "integer" },
        segments: { type: "integer" },
        segmentBytes: { type: "integer" },
        liveBytes: { type: "integer" },
        collector: COLLECTOR_SCHEMA,
        space: {
          type: "string",
          enum: ["room", "full"],
          description:
            "full: the disk filled up; writes, snaps and new volumes get NO_SPACE until the collector has given space back",
        },
        journal: {
          type: "object",
          description:
            "the write-back journal: small writes not yet merged into track chunks, and its files",
          properties: {
            entries: { type: "integer" },
            usedBytes: { type: "integer" },
            capacityBytes: { type: "integer" },
          },
          required: ["entries", "usedBytes", "capacityBytes"],
        },
      },
      required: [
        "volumes",
        "segments",
        "segmentBytes",
        "liveBytes",
        "collector",
        "space",
        "journal",
      ],
    },
  },
  required: ["volumes", "store"],
} as const;

const CHECK_REPORT_SCHEMA = {
  type: "object",
  properties: {
    ok: { type: "boolean" },
    problems: { type: "array", items: { type: "string" } },
    volumes: { type: "integer" },
    nodes: { type: "integer" },
    orphans: { type: "integer" },
    chunks: { type: "integer" },
    segments: { type: "integer" },
    checkedBytes: { type: "integer" },
  },
  required: ["ok", "problems", "volumes", "nodes", "orphans", "chunks", "segments", "checkedBytes"],
} as const;

export function storeRoutes(app: FastifyInstance, { store }: ApiContext): void {
  app.get(
    "/v1/stats",
    {
      config: { action: "show allocation stats" },
      schema: {
        summary: "Allocation per volume and the store's segment usage",
        tags: ["store"],
        querystring: NO_QUERY,
        response: { 200: STATS_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async () => {
      // Both reads are synchronous, so the volumes and the usage are of one moment.
      const volumes = store.listVolumes().map((volume) => {
        const usage = store.showVolume(volume.volser);
        return {
          volser: usage.volser,
          trackCount: usage.trackCount,
          sizeBytes: usage.sizeBytes,
          allocatedTracks: usage.allocatedTracks,
          allocatedBytes: usage.allocatedBytes,
        };
      });
      return { volumes, store: store.usage() };
    },
  );

  app.post(
    "/v1/fsck",
    {
      config: { action: "check the store" },
      preValidation: refuseBody,
      schema: {
        summary:
          "Verifies every checksum and reference count; reports problems, repairs nothing. Takes no body.",
        tags: ["store"],
        querystring: NO_QUERY,
        response: { 200: CHECK_REPORT_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async () => store.check(),
  );
}
