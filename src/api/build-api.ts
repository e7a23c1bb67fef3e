// Assembles the management API of one storage system: the Fastify instance with its limits, the
// auth hook, the one error handler, the OpenAPI document and the routes by resource. It does not
// listen: the daemon calls `listen`, tests listen on 127.0.0.1 port 0.

import assert from "node:assert";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { checkSerial, checkSsid } from "../geometry/names.js";
import type { JobService } from "../gsc/job-service.js";
import type { Reservations } from "../gsc/reservations.js";
import type { PairService } from "../pprc/pair-service.js";
import type { PathService } from "../pprc/path-service.js";
import type { Store } from "../store/store.js";
import { allocationRoutes } from "./allocation-routes.js";
import {
  type ApiContext,
  BODY_LIMIT_BYTES,
  type ChunkBackendView,
  REQUEST_TIMEOUT_MS,
  type SystemInfo,
} from "./api-context.js";
import { ApiMetrics } from "./api-metrics.js";
import { ERROR_SCHEMA } from "./api-schemas.js";
import { authHook } from "./auth-hook.js";
import {
  type ApiConnectionOptions,
  apiServerOptions,
  guardConnections,
} from "./connection-limits.js";
import { handleError, notFound } from "./error-handler.js";
import { jobRoutes } from "./job-routes.js";
import { metricsRoutes } from "./metrics-routes.js";
import { openApi } from "./openapi.js";
import { pairRoutes } from "./pair-routes.js";
import { pathRoutes } from "./path-routes.js";
import { reservationRoutes } from "./reservation-routes.js";
import { snapRoutes } from "./snap-routes.js";
import { storeRoutes } from "./store-routes.js";
import { systemRoutes } from "./system-routes.js";
import { volumeRoutes } from "./volume-routes.js";
import { webRoutes } from "./web-routes.js";

export interface BuildApiOptions {
  readonly store: Store;
  readonly system: SystemInfo;
  /** The bearer token every route but /healthz needs. */
  readonly token: string;
  /** A pino-compatible logger; none when absent or false. */
  readonly logger?: FastifyBaseLogger | false;
  /** Shared with the NBD server, which counts host requests in it; a fresh one when absent. */
  readonly metrics?: ApiMetrics;
  /** Replication paths; without them the path routes answer PATHS_UNAVAILABLE. */
  readonly paths?: PathService;
  /** Replication pairs; without them the pair routes answer PATHS_UNAVAILABLE. */
  readonly pairs?: PairService;
  /** Global snap copy jobs; without them the GSC and job routes answer PATHS_UNAVAILABLE. */
  readonly jobs?: JobService;
  /** Peers' GSC reservations here; without them the reservation routes answer PATHS_UNAVAILABLE. */
  readonly reservations?: Reservations;
  /** Where chunks live, for the system route and the object store metrics; local when absent. */
  readonly chunks?: ChunkBackendView;
  /** Connection caps and timeouts (the daemon's); none but REQUEST_TIMEOUT_MS when absent. */
  readonly connections?: ApiConnectionOptions;
}

/**
 * The API, ready to listen. Refuses a bad configuration (serial, SSIDs) with its GsnapError; an
 * empty token or an empty SSID list is a programmer error.
 */
export async function buildApi(options: BuildApiOptions): Promise<FastifyInstance> {
  assert(options.system.ssids.length > 0, "a storage system has at least one subsystem");
  const system: SystemInfo = {
    serial: checkSerial(options.system.serial),
    ssids: options.system.ssids.map(checkSsid),
    version: options.system.version,
  };
  const context: ApiContext = {
    store: options.store,
    system,
    pairs: options.pairs,
    chunks: options.chunks,
  };
  const metrics = options.metrics ?? new ApiMetrics();
  metrics.watch(options.store);
  metrics.watchReplication({ paths: options.paths, pairs: options.pairs });
  metrics.watchJobs(options.jobs);
  if (options.chunks !== undefined) metrics.watchChunks(options.chunks);

  const app: FastifyInstance = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    ...apiServerOptions(options.connections),
    // Refuse what the schemas do not allow instead of quietly fixing it: Fastify's defaults
    // would drop unknown properties and turn "10" into 10.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // Errors the router raises before any route runs (a badly encoded URL) go the same way.
    frameworkErrors: handleError,
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(notFound);
  // Before the auth hook: a connection over its cap is refused whatever it asks.
  if (options.connections !== undefined) guardConnections(app, options.connections);
  app.addHook("onRequest", authHook(options.token));
  app.addSchema(ERROR_SCHEMA);

  await openApi(app, system.version);
  systemRoutes(app, context);
  volumeRoutes(app, context);
  allocationRoutes(app, context);
  snapRoutes(app, context);
  storeRoutes(app, context);
  pathRoutes(app, options.paths);
  pairRoutes(app, options.pairs);
  jobRoutes(app, options.jobs);
  reservationRoutes(app, options.reservations);
  metricsRoutes(app, metrics);
  webRoutes(app);
  return app;
}
