// `gsnap serve`: the one place where the store, the NBD server, the API and (later) the peer link
// are wired to real sockets, files and signals. One process is one storage system.

import path from "node:path";
import type { FastifyBaseLogger } from "fastify";
import pino, { type Logger } from "pino";
import { ApiMetrics } from "../api/api-metrics.js";
import { buildApi } from "../api/build-api.js";
import { NbdServer } from "../nbd/nbd-server.js";
import { Store } from "../store/store.js";
import { VERSION } from "../version.js";
import { formatHostPort, type HostPort, type ServeConfig } from "./config.js";
import { loadIdentity } from "./identity.js";

export interface RunningSystem {
  readonly serial: string;
  readonly token: string;
  readonly tokenGenerated: boolean;
  readonly api: HostPort;
  readonly nbd: HostPort;
  readonly dataDir: string;
  /** Stops accepting, finishes or fails in-flight requests, flushes and closes the store. */
  stop(): Promise<void>;
}

export async function startSystem(config: ServeConfig, logger: Logger): Promise<RunningSystem> {
  const dataDir = path.resolve(config.data);
  const identity = loadIdentity(dataDir, config);
  const store = await Store.open(dataDir);
  const metrics = new ApiMetrics();
  const api = await buildApi({
    store,
    system: { serial: identity.serial, ssids: config.ssids, version: VERSION },
    token: identity.token,
    logger: logger.child({ part: "api" }) as unknown as FastifyBaseLogger,
    metrics,
  });
  const nbd = new NbdServer({ store, logger: logger.child({ part: "nbd" }), observer: metrics });
  try {
    await api.listen({ host: config.api.host, port: config.api.port });
    const apiAddress = api.server.address();
    const apiPort =
      typeof apiAddress === "object" && apiAddress !== null ? apiAddress.port : config.api.port;
    const nbdAddress = await nbd.listen(config.nbd);
    let stopping: Promise<void> | undefined;
    return {
      serial: identity.serial,
      token: identity.token,
      tokenGenerated: identity.tokenGenerated,
      api: { host: config.api.host, port: apiPort },
      nbd: nbdAddress,
      dataDir,
      stop() {
        stopping ??= (async () => {
          await nbd.close();
          await api.close();
          await store.flush();
          await store.close();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await nbd.close();
    await api.close();
    await store.close();
    throw error;
  }
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "gsnap" } });
}

/** The lines `gsnap serve` prints at start, for people (logs carry the same as JSON). */
export function describeSystem(system: RunningSystem): string {
  const lines = [
    `gsnap ${VERSION}: storage system ${system.serial} serving ${system.dataDir}`,
    `  API  http://${formatHostPort(system.api)}  (dashboard, /v1, /metrics, /openapi.json)`,
    `  NBD  nbd://${formatHostPort(system.nbd)}/VOLSER`,
  ];
  if (system.tokenGenerated) {
    lines.push(
      `  API token (generated, kept in ${path.join(system.dataDir, "token")}): ${system.token}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
