// Replication as one storage system runs it: paths, pairs, the GSC target and GSC jobs, opened
// in order over one store and joined by one answerer of peer requests. Paths serve what peers ask
// of the pairs and of GSC, and pairs send over paths, so the answerer reaches the pairs and the
// GSC target once they are open. A failure while opening closes what was opened.

import type { TestPause } from "../gsc/gsc-runner.js";
import { JobManager } from "../gsc/job-manager.js";
import { Reservations } from "../gsc/reservations.js";
import { GscTarget } from "../gsc/target-requests.js";
import type { LinkTlsClientOptions } from "../link/connect-link.js";
import type { LinkConnection } from "../link/link-connection.js";
import type { LinkLogger } from "../link/link-logger.js";
import type { LinkSecret } from "../link/link-secrets.js";
import { PairManager } from "../pprc/pair-manager.js";
import type { PathTiming } from "../pprc/path-link.js";
import { PathManager } from "../pprc/path-manager.js";
import { refuseAll, serveLinkRequests } from "../pprc/serve-link-requests.js";
import type { Store } from "../store/store.js";

export interface ReplicationOptions {
  readonly dataDir: string;
  readonly serial: string;
  readonly ssids: readonly string[];
  readonly store: Store;
  /** The link secret, shared or per peer serial. */
  readonly secret?: LinkSecret;
  readonly tls?: LinkTlsClientOptions;
  readonly timing?: Partial<PathTiming>;
  readonly syncTimeoutMs?: number;
  /** Pairs suspended by a restart or a link failure resume by themselves (default true). */
  readonly autoResume?: boolean;
  readonly autoResumeIntervalMs?: number;
  readonly pauseAt?: TestPause;
  /** How long a GSC job waits for a link that went down (default LINK_WAIT_MS). */
  readonly gscLinkWaitMs?: number;
  /** A peer's GSC reservations here are released this long after its job's last request. */
  readonly reservationTimeoutMs?: number;
  readonly loggers?: {
    readonly link?: LinkLogger;
    readonly pairs?: LinkLogger;
    readonly gsc?: LinkLogger;
  };
}

export interface Replication {
  readonly paths: PathManager;
  readonly pairs: PairManager;
  readonly jobs: JobManager;
  /** The GSC target: the reservations peers' jobs hold here. */
  readonly reservations: Reservations;
  /** Answers a peer on a link connection (the link listener's and the paths' own). */
  serve(connection: LinkConnection): Promise<void>;
  /** Stops jobs, pairs and paths; the data dir keeps them for the next start. */
  close(): Promise<void>;
}

export async function openReplication(options: ReplicationOptions): Promise<Replication> {
  const { dataDir, serial, store, loggers } = options;
  let pairs: PairManager | undefined;
  let gscTarget: GscTarget | undefined;
  let reservations: Reservations | undefined;
  const serve = (connection: LinkConnection) =>
    serveLinkRequests(connection, async (request, peerSerial) => {
      if (request.type === "CONTROL" && gscTarget !== undefined) {
        return gscTarget.handle(request, peerSerial);
      }
      const refusal = gscTarget?.screen(request, peerSerial);
      if (refusal !== undefined) return refusal;
      return pairs === undefined
        ? refuseAll(request, peerSerial)
        : pairs.handlePeer(request, peerSerial);
    });
  const paths = await PathManager.open({
    dataDir,
    serial,
    ssids: options.ssids,
    secret: options.secret,
    tls: options.tls,
    logger: loggers?.link,
    timing: options.timing,
    serve,
  });
  try {
    pairs = await PairManager.open({
      dataDir,
      serial,
      store,
      paths,
      logger: loggers?.pairs,
      syncTimeoutMs: options.syncTimeoutMs,
      autoResume: options.autoResume,
      autoResumeIntervalMs: options.autoResumeIntervalMs,
      jobOf: (volser, peerSerial) => gscTarget?.jobOf(volser, peerSerial),
    });
    reservations = await Reservations.open({
      dataDir,
      store,
      pairs,
      timeoutMs: options.reservationTimeoutMs,
      logger: loggers?.gsc,
    });
    gscTarget = new GscTarget({
      store,
      pairs,
      reservations,
      ssids: options.ssids,
      logger: loggers?.gsc,
    });
    const opened = pairs;
    const kept = reservations;
    const jobs = await JobManager.open({
      dataDir,
      serial,
      store,
      pairs,
      paths,
      logger: loggers?.gsc,
      pauseAt: options.pauseAt,
      linkWaitMs: options.gscLinkWaitMs,
    });
    return {
      paths,
      pairs: opened,
      jobs,
      reservations: kept,
      serve,
      async close() {
        await jobs.close();
        await kept.close();
        await opened.close();
        await paths.close();
      },
    };
  } catch (error) {
    await reservations?.close();
    await pairs?.close();
    await paths.close();
    throw error;
  }
}
