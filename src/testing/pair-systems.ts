// Two storage systems in this process for pair tests: each with a store in a temp dir, a link
// listener on 127.0.0.1, paths, pairs and the host view of its volumes (what NBD serves), joined
// by a path from the primary system's 01A0 to the secondary system's 01B0. Real sockets, real
// stores; only the processes are shared. A system can be stopped and started again on its data.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { openReplication } from "../daemon/replication.js";
import type { TestPause } from "../gsc/gsc-runner.js";
import type { JobManager } from "../gsc/job-manager.js";
import { type LinkListener, listenLink } from "../link/link-listener.js";
import { silentLinkLogger } from "../link/link-logger.js";
import type { HostVolumes } from "../nbd/host-volumes.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { PairInfo } from "../pprc/pair-service.js";
import { pairedVolumes } from "../pprc/paired-volumes.js";
import type { PathManager } from "../pprc/path-manager.js";
import { blockChecksums } from "../store/checksum.js";
import { Store } from "../store/store.js";

export const SECRET = "pair-test-secret";
export const PRIMARY_SERIAL = "0000000001";
export const SECONDARY_SERIAL = "0000000002";
/** Failures and reconnections within a fraction of a second. */
const FAST = { pingIntervalMs: 200, pingTimeoutMs: 1_000, backoffMinMs: 20, backoffMaxMs: 200 };

export interface TestSystem {
  readonly serial: string;
  readonly dataDir: string;
  readonly store: Store;
  readonly paths: PathManager;
  readonly pairs: PairManager;
  readonly jobs: JobManager;
  readonly host: HostVolumes;
  readonly listener: LinkListener;
  stop(): Promise<void>;
}

export interface SystemOptions {
  readonly serial: string;
  readonly ssid: string;
  readonly dataDir?: string;
  readonly linkPort?: number;
  readonly syncTimeoutMs?: number;
  /** Default false here: most tests resume by hand; those of auto-resume turn it on. */
  readonly autoResume?: boolean;
  /** GSC jobs stop at this step until cancelled, or for `ms`. */
  readonly pauseAt?: TestPause;
  /** The link protocol versions its listener speaks (an older system); default: all. */
  readonly linkVersions?: readonly number[];
}

export async function startTestSystem(options: SystemOptions): Promise<TestSystem> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-pairs-"));
  const store = await Store.open(dataDir);
  const replication = await openReplication({
    dataDir,
    serial: options.serial,
    ssids: [options.ssid],
    store,
    secret: SECRET,
    loggers: { link: silentLinkLogger },
    timing: FAST,
    syncTimeoutMs: options.syncTimeoutMs,
    autoResume: options.autoResume ?? false,
    autoResumeIntervalMs: 100,
    pauseAt: options.pauseAt,
  });
  const { paths, pairs, jobs } = replication;
  const listener = await listenLink({
    host: "127.0.0.1",
    port: options.linkPort ?? 0,
    secret: SECRET,
    serial: options.serial,
    ssids: [options.ssid],
    logger: silentLinkLogger,
    versions: options.linkVersions,
    onConnection: (connection) => void replication.serve(connection),
  });
  let stopped: Promise<void> | undefined;
  return {
    serial: options.serial,
    dataDir,
    store,
    paths,
    pairs,
    jobs,
    host: pairedVolumes(store, pairs),
    listener,
    stop() {
      stopped ??= (async () => {
        await replication.close();
        await listener.close();
        await store.flush();
        await store.close();
      })();
      return stopped;
    },
  };
}

export interface PairSystems {
  readonly primary: TestSystem;
  readonly secondary: TestSystem;
}

/** A primary system (01A0) with a path to a secondary system (01B0); the path is up. */
export async function startPairSystems(
  options: {
    syncTimeoutMs?: number;
    pauseAt?: TestPause;
    /** The secondary's link versions (an older secondary); default: all. */
    secondaryLinkVersions?: readonly number[];
  } = {},
): Promise<PairSystems> {
  const secondary = await startTestSystem({
    serial: SECONDARY_SERIAL,
    ssid: "01B0",
    linkVersions: options.secondaryLinkVersions,
  });
  const primary = await startTestSystem({
    serial: PRIMARY_SERIAL,
    ssid: "01A0",
    syncTimeoutMs: options.syncTimeoutMs,
    pauseAt: options.pauseAt,
  });
  await primary.paths.establish({
    ssid: "01A0",
    to: `${SECONDARY_SERIAL}.01B0`,
    links: [`127.0.0.1:${secondary.listener.address.port}`],
  });
  return { primary, secondary };
}

/** Polls a pair's info every 20 ms until `until` holds; throws with the last info after the timeout. */
export async function waitFor<T = PairInfo>(
  read: () => T,
  until: (info: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = read();
    if (until(info)) return info;
    if (Date.now() > deadline) throw new Error(`timed out waiting; last ${JSON.stringify(info)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The primary's PRI001 and the secondary's SEC001 hold the same bytes, every track of them. */
export async function expectIdentical(both: PairSystems): Promise<void> {
  const volume = both.primary.store.showVolume("PRI001");
  const whole = { offsetBytes: 0, lengthBytes: volume.trackCount * volume.trackSizeBytes };
  const here = await both.primary.store.read("PRI001", whole);
  const there = await both.secondary.store.read("SEC001", whole);
  expect(there.equals(here)).toBe(true);
  // The secondary's chunk records hold the right block checksums, whether it hashed the blocks
  // or took them from the batch (protocol version 4): a 4 KiB read of any block verifies.
  const into = Buffer.alloc(whole.lengthBytes);
  const runs = [{ firstTrack: 0, count: volume.trackCount }];
  const { blockSums } = await both.secondary.store.readTracks("SEC001", { runs, into });
  blockSums.forEach((sums, track) => {
    if (sums === undefined) return;
    const image = into.subarray(track * volume.trackSizeBytes, (track + 1) * volume.trackSizeBytes);
    expect(sums.equals(blockChecksums(image))).toBe(true);
  });
}
