// Test support for the API: a real Store in a temp dir and the API listening on 127.0.0.1 port 0,
// driven over real HTTP with fetch. Not a test file itself; the *.test.ts files beside it use it.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { vi } from "vitest";
import type { ChunkBackendView } from "../api/api-context.js";
import { ApiMetrics } from "../api/api-metrics.js";
import { buildApi } from "../api/build-api.js";
import { runCli } from "../cli/program.js";
import type { PortLimits } from "../daemon/limits-config.js";
import type { JobInfo } from "../gsc/job-service.js";
import { Reservations } from "../gsc/reservations.js";
import { ConnectionLimiter } from "../limits/connection-limiter.js";
import { ListenerGate } from "../limits/listener-gate.js";
import type { PairInfo } from "../pprc/pair-service.js";
import { Store } from "../store/store.js";
import { exampleJob, MemoryJobs } from "./memory-jobs.js";
import { examplePair, MemoryPairs } from "./memory-pairs.js";
import { MemoryPaths } from "./memory-paths.js";

export const TOKEN = "test-token-7f3a9c1e";
export const SYSTEM = { serial: "GS0001", ssids: ["01A0", "01A1"], version: "0.1.0-test" };
export const TRACK_SIZE_BYTES = 57_344;

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary reply shapes.
  readonly body: any;
}

export interface CallOptions {
  /** The bearer token; TOKEN when absent, no Authorization header when null. */
  readonly token?: string | null;
  /** A JSON body. */
  readonly json?: unknown;
  /** A raw body, sent as is with `contentType` (default application/json). */
  readonly raw?: string | Uint8Array;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

export interface ApiUnderTest {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly metrics: ApiMetrics;
  readonly paths: MemoryPaths;
  readonly pairs: MemoryPairs;
  readonly jobs: MemoryJobs;
  readonly baseUrl: string;
  /** The limiter of the API's gate, when started with `limits`. */
  readonly limiter?: ConnectionLimiter;
  call(method: string, urlPath: string, options?: CallOptions): Promise<Reply>;
}

/** One route of the API with a request that succeeds on the seeded store (see `seed`). */
export interface RouteCase {
  readonly method: string;
  readonly path: string;
  readonly json?: unknown;
  /** Pairs the request needs (set with `api.pairs.setPair` first); none when absent. */
  readonly pairs?: readonly PairInfo[];
  /** Jobs the request needs (set with `api.jobs.setJob` first); none when absent. */
  readonly jobs?: readonly JobInfo[];
}

/** A job that has ended, so that waiting for it or following it answers at once. */
const ENDED_JOB = exampleJob("J000001", {
  state: "succeeded",
  step: 524,
  resultCode: "OK",
  endedAt: "2026-01-01T00:01:00.000Z",
});

/**
 * Every route that needs the token, each with a request that works on a seeded store once its
 * `pairs` are set.
 */
export const PRIVATE_ROUTES: readonly RouteCase[] = [
  { method: "GET", path: "/v1/system" },
  { method: "GET", path: "/v1/subsystems" },
  { method: "GET", path: "/v1/volumes" },
  { method: "POST", path: "/v1/volumes", json: { volser: "NEW001", cylinders: 10 } },
  { method: "GET", path: "/v1/volumes/VOL001" },
  { method: "GET", path: "/v1/volumes/VOL001/allocation" },
  { method: "DELETE", path: "/v1/volumes/VOL001" },
  { method: "POST", path: "/v1/snap", json: { source: "VOL001:0.0-0.14", target: "VOL002" } },
  { method: "GET", path: "/v1/stats" },
  { method: "POST", path: "/v1/fsck" },
  { method: "GET", path: "/v1/paths" },
  {
    method: "POST",
    path: "/v1/paths",
    json: { ssid: "01A1", to: "GS0002.01B1", links: ["127.0.0.1:8481"] },
  },
  { method: "DELETE", path: "/v1/paths/01A0/GS0002.01B0" },
  { method: "GET", path: "/v1/pairs" },
  {
    method: "POST",
    path: "/v1/pairs",
    json: { volser: "VOL001", secondary: "GS0002.01B0.VOL900", mode: "sync" },
  },
  { method: "GET", path: "/v1/pairs/VOL001", pairs: [examplePair("VOL001")] },
  { method: "POST", path: "/v1/pairs/VOL001/suspend", pairs: [examplePair("VOL001")] },
  {
    method: "POST",
    path: "/v1/pairs/VOL001/resume",
    pairs: [examplePair("VOL001", { state: "suspended", reason: "operator" })],
  },
  { method: "DELETE", path: "/v1/pairs/VOL001", pairs: [examplePair("VOL001")] },
  {
    method: "POST",
    path: "/v1/gsc",
    json: { source: "VOL001:0.0-9.14", intermediate: "*", target: "GS0002.01B0.VOL900" },
  },
  { method: "GET", path: "/v1/jobs" },
  { method: "GET", path: "/v1/jobs/J000001", jobs: [exampleJob("J000001")] },
  { method: "POST", path: "/v1/jobs/J000001/cancel", jobs: [exampleJob("J000001")] },
  { method: "GET", path: "/v1/jobs/J000001/wait", jobs: [ENDED_JOB] },
  { method: "GET", path: "/v1/jobs/J000001/events", jobs: [ENDED_JOB] },
  { method: "GET", path: "/v1/reservations" },
  { method: "POST", path: "/v1/reservations/VOL001/release" },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/openapi.json" },
];

export const ALL_ROUTES: readonly RouteCase[] = [
  { method: "GET", path: "/healthz" },
  ...PRIVATE_ROUTES,
];

const running: { app: FastifyInstance; store: Store; dir: string }[] = [];

/** `withoutPaths` builds the API without replication: no paths, no pairs and no jobs. */
export async function startApi(
  options: {
    logger?: FastifyBaseLogger;
    seeded?: boolean;
    withoutPaths?: boolean;
    chunks?: ChunkBackendView;
    /** Connection caps and timeouts, counted in the API's metrics. */
    limits?: PortLimits;
  } = {},
): Promise<ApiUnderTest> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-api-"));
  const store = await Store.open(dir, { collectorIntervalMs: false });
  const metrics = new ApiMetrics();
  const paths = new MemoryPaths(SYSTEM.ssids);
  const pairs = new MemoryPairs({ serial: SYSTEM.serial, store });
  const jobs = new MemoryJobs();
  // No pairs on this system's volumes: giving a reservation back terminates none.
  const reservations = await Reservations.open({
    dataDir: dir,
    store,
    pairs: { isSecondary: () => false, terminate: async () => {} },
  });
  const limits = options.limits;
  const limiter =
    limits &&
    new ConnectionLimiter({ listeners: { api: limits }, maxTotal: Number.POSITIVE_INFINITY });
  const app = await buildApi({
    store,
    system: SYSTEM,
    token: TOKEN,
    metrics,
    logger: options.logger,
    paths: options.withoutPaths ? undefined : paths,
    pairs: options.withoutPaths ? undefined : pairs,
    jobs: options.withoutPaths ? undefined : jobs,
    reservations: options.withoutPaths ? undefined : reservations,
    chunks: options.chunks,
    connections: limits && {
      gate: new ListenerGate("api", { limiter: limiter as ConnectionLimiter, events: metrics }),
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      idleTimeoutMs: limits.idleTimeoutMs,
    },
  });
  app.addHook("onClose", () => reservations.close());
  running.push({ app, store, dir });
  if (options.seeded !== false) {
    await seed(store, paths);
    // A peer's job holds VOL001, for the reservation routes to list and release.
    await reservations.add({ job: "J000001", peer: "GS0002", volser: "VOL001", created: false });
  }
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    app,
    store,
    metrics,
    paths,
    pairs,
    jobs,
    baseUrl: address,
    limiter,
    call: (...args) => call(address, ...args),
  };
}

/** Closes every API and store the test started and removes their dirs. */
export async function stopApis(): Promise<void> {
  for (const { app, store, dir } of running.splice(0)) {
    await app.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * VOL001 (10 cylinders, tracks 0 to 2 written) and VOL002 (10 cylinders, empty), in 01A0; with
 * `paths`, a path from 01A0 to GS0002.01B0.
 */
export async function seed(store: Store, paths?: MemoryPaths): Promise<void> {
  await paths?.establish({ ssid: "01A0", to: "GS0002.01B0", links: ["127.0.0.1:8481"] });
  await store.createVolume({ volser: "VOL001", ssid: "01A0", cylinders: 10 });
  await store.createVolume({ volser: "VOL002", ssid: "01A0", cylinders: 10 });
  await store.write("VOL001", {
    offsetBytes: 0,
    data: Buffer.alloc(3 * TRACK_SIZE_BYTES, 0x5a),
  });
}

/** Everything a client could see of the store: to show that a refused request changed nothing. */
export function storeState(store: Store): unknown {
  return {
    volumes: store.listVolumes().map((volume) => store.showVolume(volume.volser)),
    usage: store.usage(),
  };
}

async function call(
  baseUrl: string,
  method: string,
  urlPath: string,
  options: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["content-type"] = "application/json";
  } else if (options.raw !== undefined) {
    body = typeof options.raw === "string" ? options.raw : new Uint8Array(options.raw);
    headers["content-type"] = options.contentType ?? "application/json";
  }
  const response = await fetch(`${baseUrl}${urlPath}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

/** Runs `gsnap --api ... --token ... ARGS` in process against `api` and captures what it prints. */
export async function runGsnap(
  api: ApiUnderTest,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  vi.spyOn(process.stdout, "write").mockImplementation((text) => {
    out.stdout += String(text);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((text) => {
    out.stderr += String(text);
    return true;
  });
  const code = await runCli(["--api", api.baseUrl, "--token", TOKEN, ...args]);
  vi.restoreAllMocks();
  return { code, ...out };
}
