// What every route of the management API shares: the store, the storage system's identity, the
// request limits, and the per-route config (the action a route performs, whether it is public).

import type { FastifyRequest } from "fastify";
import type { ObjectDeviceStats } from "../objects/object-segment-device.js";
import type { PairService } from "../pprc/pair-service.js";
import type { Store } from "../store/store.js";

/** The storage system the API serves, as the daemon configured it. */
export interface SystemInfo {
  readonly serial: string;
  readonly ssids: readonly string[];
  readonly version: string;
}

/** Where the system keeps its chunks, as the API shows it (the daemon's chunk backend). */
export interface ChunkBackendView {
  readonly kind: "local" | "s3";
  /** `s3://BUCKET/PREFIX/`; never credentials. Undefined for local chunks. */
  readonly url?: string;
  /** The S3 endpoint when one was configured (else the SDK's default). */
  readonly endpoint?: string;
  /** The object device's counters; undefined for local chunks. */
  stats(): ObjectDeviceStats | undefined;
}

export interface ApiContext {
  readonly store: Store;
  readonly system: SystemInfo;
  /** Replication pairs, when the API has them: a paired volume is not deleted or snapped into. */
  readonly pairs?: PairService;
  /** Where chunks live; local segment files when absent. */
  readonly chunks?: ChunkBackendView;
}

/**
 * No route takes more than a volume request or a snap of 32 extents (well under 2 KiB); 64 KiB
 * leaves room for clients that pad, and keeps a flood of large bodies cheap to refuse.
 */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Receiving a request (headers and body) may take this long; slow senders are cut off. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Request text quoted in messages (URLs, property names) is cut to this many characters. */
export const MAX_QUOTED_CHARS = 100;

/** Quotes request text for a message, cut so that a huge URL does not make a huge reply. */
export function quote(text: string): string {
  const cut = text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}...` : text;
  return JSON.stringify(cut);
}

/** What a request was trying to do, for messages: its route's action, else its method and URL. */
export function actionOf(request: FastifyRequest): string {
  // Requests refused by the router (a badly encoded URL) have no route config.
  const action = request.routeOptions?.config?.action;
  return action ?? `${request.method} ${quote(request.url)}`;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** What the route does, for messages: "Cannot <action>: <why>". */
    action?: string;
    /** A public route needs no bearer token (only /healthz). */
    public?: boolean;
  }
}
