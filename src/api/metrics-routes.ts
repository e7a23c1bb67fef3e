// The Prometheus scrape route. It needs the token like every other route: the metrics name
// volumes and reveal how full the store is.

import type { FastifyInstance } from "fastify";
import type { ApiMetrics } from "./api-metrics.js";
import { ERROR_RESPONSES } from "./api-schemas.js";

export function metricsRoutes(app: FastifyInstance, metrics: ApiMetrics): void {
  app.get(
    "/metrics",
    {
      config: { action: "scrape metrics" },
      schema: {
        summary:
          "Prometheus text exposition: NBD requests, store, volume and data dir gauges, paths, links, pairs, GSC jobs, process",
        tags: ["metrics"],
        response: {
          // Prometheus text, not JSON: Fastify sends a string of a non-JSON type as it is.
          200: {
            description: "Prometheus text exposition format 0.0.4",
            content: { "text/plain": { schema: { type: "string" } } },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.text();
      return reply.type(metrics.contentType).send(text);
    },
  );
}
