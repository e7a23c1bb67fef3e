// `gsnap serve`: the one place where the store, the NBD server, the API, the peer link listener
// and the replication paths are wired to real sockets, files and signals. One process is one
// storage system.

import fs from "node:fs";
import path from "node:path";
import type { FastifyBaseLogger } from "fastify";
import pino, { type Logger } from "pino";
import { ApiMetrics } from "../api/api-metrics.js";
import { buildApi } from "../api/build-api.js";
import type { TestPause } from "../gsc/gsc-runner.js";
import { GSC_STEPS, type GscStep } from "../gsc/job-service.js";
import { ConnectionLimiter } from "../limits/connection-limiter.js";
import { ListenerGate } from "../limits/listener-gate.js";
import { type LinkListener, listenLink } from "../link/link-listener.js";
import { linkSecretOf } from "../link/link-secrets.js";
import { NbdServer } from "../nbd/nbd-server.js";
import { pairedVolumes } from "../pprc/paired-volumes.js";
import { Store } from "../store/store.js";
import { VERSION } from "../version.js";
import { openChunkBackend } from "./chunk-backend.js";
import { formatHostPort, type HostPort, type ServeConfig } from "./config.js";
import { descriptorBudget } from "./descriptors.js";
import { loadIdentity } from "./identity.js";
import { requestFields } from "./log-fields.js";
import { loadNbdTls } from "./nbd-tls-config.js";
import { openReplication, type Replication } from "./replication.js";

export interface RunningSystem {
  readonly serial: string;
  readonly token: string;
  readonly tokenGenerated: boolean;
  readonly api: HostPort;
  readonly nbd: HostPort;
  /** off, on or require, for the banner. */
  readonly nbdTls: string;
  /** Where peer links are accepted; undefined without any link secret (no listener). */
  readonly link: HostPort | undefined;
  readonly linkTls: boolean;
  readonly dataDir: string;
  /** Where chunks live, for the banner. */
  readonly chunks: string;
  /** Stops accepting, finishes or fails in-flight requests, flushes and closes the store. */
  stop(): Promise<void>;
}

export async function startSystem(config: ServeConfig, logger: Logger): Promise<RunningSystem> {
  const dataDir = path.resolve(config.data);
  // First, before anything opens: a key file that cannot be read or used stops the start.
  const nbdTls = config.nbdTls && loadNbdTls(config.nbdTls);
  keepPrivate(dataDir, logger);
  const identity = loadIdentity(dataDir, config);
  const chunks = openChunkBackend(config.chunks, { dataDir, logger });
  let store: Store;
  try {
    store = await Store.open(dataDir, {
      ...chunks.storeOptions,
      journalBytes: config.journalBytes,
      reserveBytes: config.spaceReserveBytes,
    });
  } catch (error) {
    chunks.close();
    throw error;
  }
  warnForeignSubsystems(store, config.ssids, logger);
  const metrics = new ApiMetrics();
  const linkLogger = logger.child({ part: "link" });
  let gates: Gates;
  try {
    gates = connectionGates(config, { metrics, logger, linkLogger });
  } catch (error) {
    await store.close();
    chunks.close();
    throw error;
  }
  const linkSecret = linkSecretOf({ shared: config.linkSecret, peers: config.linkPeers });
  let replication: Replication;
  try {
    replication = await openReplication({
      dataDir,
      serial: identity.serial,
      ssids: config.ssids,
      store,
      secret: linkSecret,
      reservationTimeoutMs: config.reservationTimeoutMs,
      tls: config.linkTls === undefined ? undefined : { caPath: config.linkTls.caPath },
      syncTimeoutMs: config.syncTimeoutMs,
      autoResume: config.autoResume,
      pauseAt: testPause(),
      gscLinkWaitMs: testLinkWaitMs(),
      loggers: {
        link: linkLogger,
        pairs: logger.child({ part: "pairs" }),
        gsc: logger.child({ part: "gsc" }),
      },
    });
  } catch (error) {
    await store.close();
    chunks.close();
    throw error;
  }
  const { paths, pairs, jobs, reservations } = replication;
  const api = await buildApi({
    store,
    system: { serial: identity.serial, ssids: config.ssids, version: VERSION },
    token: identity.token,
    logger: logger.child({ part: "api" }) as unknown as FastifyBaseLogger,
    metrics,
    paths,
    pairs,
    jobs,
    reservations,
    chunks,
    connections: {
      gate: gates.api,
      handshakeTimeoutMs: config.limits.api.handshakeTimeoutMs,
      idleTimeoutMs: config.limits.api.idleTimeoutMs,
    },
  });
  let linkListener: LinkListener | undefined;
  const nbd = new NbdServer({
    store: pairedVolumes(store, pairs),
    logger: logger.child({ part: "nbd" }),
    observer: metrics,
    gate: gates.nbd,
    timeouts: {
      handshakeMs: config.limits.nbd.handshakeTimeoutMs,
      idleMs: config.limits.nbd.idleTimeoutMs,
    },
    tls: nbdTls,
  });
  try {
    const nbdAddress = await nbd.listen(config.nbd);
    if (linkSecret !== undefined) {
      linkListener = await listenLink({
        host: config.link.host,
        port: config.link.port,
        secret: linkSecret,
        serial: identity.serial,
        ssids: config.ssids,
        tls: config.linkTls,
        logger: linkLogger,
        gate: gates.link,
        handshakeTimeoutMs: config.limits.link.handshakeTimeoutMs,
        idleTimeoutMs: config.limits.link.idleTimeoutMs,
        onConnection: (connection) => void replication.serve(connection),
      });
    }
    // The API listens last: a script that waits for it to answer (the README's) then finds the
    // NBD server and the link listener up too.
    await api.listen({ host: config.api.host, port: config.api.port });
    const apiAddress = api.server.address();
    const apiPort =
      typeof apiAddress === "object" && apiAddress !== null ? apiAddress.port : config.api.port;
    const link = linkListener && { host: config.link.host, port: linkListener.address.port };
    let stopping: Promise<void> | undefined;
    return {
      serial: identity.serial,
      token: identity.token,
      tokenGenerated: identity.tokenGenerated,
      api: { host: config.api.host, port: apiPort },
      nbd: nbdAddress,
      nbdTls: nbdTls === undefined ? "off" : `${nbdTls.mode}, ${nbdTls.credentials.kind}`,
      link,
      linkTls: config.linkTls !== undefined,
      dataDir,
      chunks: chunks.description,
      stop() {
        stopping ??= (async () => {
          await nbd.close();
          await replication.close();
          await linkListener?.close();
          await api.close();
          try {
            await store.flush();
          } finally {
            // A flush that failed (a full or failing disk) still closes the store; the stop
            // then fails with the flush's error.
            await store.close();
            chunks.close();
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    await replication.close();
    await linkListener?.close();
    await nbd.close();
    await api.close();
    await store.close();
    chunks.close();
    throw error;
  }
}

interface Gates {
  readonly nbd: ListenerGate;
  readonly api: ListenerGate;
  readonly link: ListenerGate;
}

/**
 * One limiter for the three ports, so that together they never take the descriptors kept for
 * the store (read after the store has opened its files), and a gate for each that counts its
 * refusals and timeouts in the metrics.
 */
function connectionGates(
  config: ServeConfig,
  options: { metrics: ApiMetrics; logger: Logger; linkLogger: Logger },
): Gates {
  const { nbd, api, link, fdReserve } = config.limits;
  const limiter = new ConnectionLimiter({
    listeners: { nbd, api, link },
    maxTotal: descriptorBudget(fdReserve, options.logger),
  });
  const gate = (name: "nbd" | "api" | "link", logger: Logger) =>
    new ListenerGate(name, { limiter, events: options.metrics, logger });
  return {
    nbd: gate("nbd", options.logger.child({ part: "nbd" })),
    api: gate("api", options.logger.child({ part: "api" })),
    link: gate("link", options.linkLogger),
  };
}

/**
 * Warns of volumes in subsystems this start does not configure: they are served, but no path,
 * pair or GSC can name them. A data dir made when the default SSID was 0001 and started with the
 * defaults (now 01A0) is one; the warning names the --ssid that brings them back.
 */
function warnForeignSubsystems(store: Store, ssids: readonly string[], logger: Logger): void {
  const foreign = new Set<string>();
  for (const volume of store.listVolumes()) {
    if (!ssids.includes(volume.ssid)) foreign.add(volume.ssid);
  }
  if (foreign.size === 0) return;
  const all = [...ssids, ...foreign].join(",");
  logger.warn(
    { ssids, foreign: [...foreign] },
    `volumes are in subsystems this system does not have (${[...foreign].join(", ")}): no path, pair or GSC can name them; start it with --ssid ${all}`,
  );
}

/**
 * GSNAP_TEST_PAUSE_AT=510 makes every GSC job stop at that step until it is cancelled, and
 * GSNAP_TEST_PAUSE_AT=510:2000 for 2 s: tests kill a system there. Off unless set; a value that
 * does not name a step is ignored.
 */
function testPause(): TestPause | undefined {
  const [step, ms] = (process.env.GSNAP_TEST_PAUSE_AT ?? "").split(":").map(Number);
  if (!(step in GSC_STEPS)) return undefined;
  return Number.isInteger(ms) && ms > 0 ? { step: step as GscStep, ms } : { step: step as GscStep };
}

/**
 * GSNAP_TEST_GSC_LINK_WAIT_MS=2000: a GSC job waits 2 s, not LINK_WAIT_MS, for a link that went
 * down, so that tests of a link that stays down end quickly. Off unless set to a positive count.
 */
function testLinkWaitMs(): number | undefined {
  const ms = Number(process.env.GSNAP_TEST_GSC_LINK_WAIT_MS ?? "");
  return Number.isInteger(ms) && ms > 0 ? ms : undefined;
}

/** The server's logger; `destination` (tests) instead of stdout. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { service: "gsnap" }, serializers: { req: requestFields } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** The lines `gsnap serve` prints at start, for people (logs carry the same as JSON). */
export function describeSystem(system: RunningSystem): string {
  const lines = [
    `gsnap ${VERSION}: storage system ${system.serial} serving ${system.dataDir}`,
    `  API  http://${formatHostPort(system.api)}  (dashboard, /v1, /metrics, /openapi.json)`,
    `  NBD  nbd://${formatHostPort(system.nbd)}/VOLSER  (TLS ${system.nbdTls})`,
    system.link === undefined
      ? "  LINK  off (no link secret: gsnap serve --link-secret-file or --link-peer)"
      : `  LINK  ${formatHostPort(system.link)}  (peer links, ${system.linkTls ? "TLS" : "TCP"})`,
    `  CHUNKS  ${system.chunks}`,
  ];
  if (system.tokenGenerated) {
    lines.push(
      `  API token (generated, kept in ${path.join(system.dataDir, "token")}): ${system.token}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Makes the data dir (creating it) reachable by its owner alone, as PostgreSQL wants of its data
 * directory: its files hold every volume's data and the API token, and one made by an older
 * gsnap, or by hand, may be open to all.
 */
function keepPrivate(dataDir: string, logger: Logger): void {
  let mode: number;
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    mode = fs.statSync(dataDir).mode & 0o777;
    if ((mode & 0o077) === 0) return;
    fs.chmodSync(dataDir, mode & 0o700);
  } catch (error) {
    // Opening the store reports a data dir it cannot use; one it can use but this process may
    // not change (another user's) is served all the same, with this warning.
    logger.warn({ dataDir, err: (error as Error).message }, "cannot make the data dir private");
    return;
  }
  logger.warn(
    { dataDir, was: `0${mode.toString(8)}`, now: `0${(mode & 0o700).toString(8)}` },
    "the data dir was open to other users; it is now its owner's alone",
  );
}
