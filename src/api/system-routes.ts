// Routes about the storage system as a whole: liveness, identity and capacity, subsystems.

import type { FastifyInstance } from "fastify";
import type { ApiContext, ChunkBackendView } from "./api-context.js";
import { COLLECTOR_SCHEMA, ERROR_RESPONSES, NO_QUERY } from "./api-schemas.js";

const SYSTEM_SCHEMA = {
  type: "object",
  properties: {
    serial: { type: "string" },
    ssids: { type: "array", items: { type: "string" } },
    version: { type: "string" },
    volumes: { type: "integer" },
    capacity: {
      type: "object",
      properties: { segmentBytes: { type: "integer" }, liveBytes: { type: "integer" } },
      required: ["segmentBytes", "liveBytes"],
    },
    collector: COLLECTOR_SCHEMA,
    chunks: {
      type: "object",
      description:
        "Where chunks live: local segment files, or an S3 object store (with the bytes staged locally and not yet uploaded, and the read cache)",
      properties: {
        kind: { type: "string", enum: ["local", "s3"] },
        url: { type: "string" },
        endpoint: { type: "string" },
        stagedSegments: { type: "integer" },
        stagedBytes: { type: "integer" },
        cacheBytes: { type: "integer" },
      },
      required: ["kind"],
    },
  },
  required: ["serial", "ssids", "version", "volumes", "capacity", "collector", "chunks"],
} as const;

const SUBSYSTEMS_SCHEMA = {
  type: "array",
  items: {
    type: "object",
    properties: { ssid: { type: "string" }, volumes: { type: "integer" } },
    required: ["ssid", "volumes"],
  },
} as const;

export function systemRoutes(app: FastifyInstance, { store, system, chunks }: ApiContext): void {
  app.get(
    "/healthz",
    {
      config: { action: "check health", public: true },
      schema: {
        summary: "Liveness probe; needs no token",
        tags: ["system"],
        security: [],
        querystring: NO_QUERY,
        response: {
          200: {
            type: "object",
            properties: { status: { type: "string", enum: ["ok"] } },
            required: ["status"],
          },
        },
      },
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/v1/system",
    {
      config: { action: "show the system" },
      schema: {
        summary: "The storage system: serial, subsystems, version, capacity, where chunks live",
        tags: ["system"],
        querystring: NO_QUERY,
        response: { 200: SYSTEM_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const usage = store.usage();
      return {
        serial: system.serial,
        ssids: system.ssids,
        version: system.version,
        volumes: usage.volumes,
        capacity: { segmentBytes: usage.segmentBytes, liveBytes: usage.liveBytes },
        collector: usage.collector,
        chunks: chunksOf(chunks),
      };
    },
  );

  app.get(
    "/v1/subsystems",
    {
      config: { action: "list subsystems" },
      schema: {
        summary: "The subsystems of this storage system and how many volumes each holds",
        tags: ["system"],
        querystring: NO_QUERY,
        response: { 200: SUBSYSTEMS_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const counts = new Map(system.ssids.map((ssid) => [ssid, 0]));
      for (const volume of store.listVolumes()) {
        // A volume may belong to an SSID the system no longer configures; it is listed too.
        counts.set(volume.ssid, (counts.get(volume.ssid) ?? 0) + 1);
      }
      return [...counts].map(([ssid, volumes]) => ({ ssid, volumes }));
    },
  );
}

/** The chunk backend as the system route shows it; no credentials, ever. */
function chunksOf(chunks: ChunkBackendView | undefined) {
  if (chunks === undefined || chunks.kind === "local") return { kind: "local" as const };
  const stats = chunks.stats();
  return {
    kind: chunks.kind,
    url: chunks.url,
    endpoint: chunks.endpoint,
    stagedSegments: stats?.stagedSegments ?? 0,
    stagedBytes: stats?.stagedBytes ?? 0,
    cacheBytes: stats?.cacheBytes ?? 0,
  };
}
