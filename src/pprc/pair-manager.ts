// The pairs of one storage system, on both sides: the I/O shell that keeps them in pairs.json,
// runs a PrimaryPair for each local primary, answers a primary's requests for each local
// secondary, and gives host I/O its pair checks (DESIGN.md §2).
//
// The primary drives a pair: establish, suspend, resume and terminate are asked of it, and it tells
// the secondary over the path (PAIR_OPEN, PAIR_STATE). The secondary keeps its own record, so that
// it can report its view when the primary is unreachable, and takes tracks for its volume only
// from its primary's system.

import { isDiskFull } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";
import {
  ControlOp,
  NackReason,
  type PairOpenFrame,
  PairOpenOption,
  type PairStateFrame,
  type ReplyFrame,
  WirePairMode,
  WirePairState,
} from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";
import { type LinkLogger, silentLinkLogger } from "../link/link-logger.js";
import type { Store } from "../store/store.js";
import type { JobRef } from "../store/volume-record.js";
import { AutoResume } from "./auto-resume.js";
import { type PairRecord, pairJob, readPairFile, writePairFile } from "./pair-file.js";
import type { EstablishPairRequest, PairInfo, PairMode, PairService } from "./pair-service.js";
import {
  checkEstablishPair,
  formatRemoteVolume,
  parseRemoteVolume,
  type RemoteVolume,
} from "./pair-spec.js";
import { checkOpened, modeOf, reasonOf, stateOf, storedBytes } from "./pair-wire.js";
import { type InitialCopy, PrimaryPair } from "./primary-pair.js";
import { RateMeter } from "./rate-meter.js";
import type { PeerReply, PeerRequest } from "./serve-link-requests.js";
import { TrackStorer } from "./track-receiver.js";

/**
 * A sync write waits this long for the secondary before the pair suspends. Long enough for a
 * loaded secondary's slow commit; short enough that a host does not time out its own I/O (30 s
 * for Linux's SCSI layer) before the pair has given up and gone on alone.
 */
export const DEFAULT_SYNC_TIMEOUT_MS = 5_000;

/** What pairs need of paths. */
export interface PairPaths {
  connectionsTo(route: {
    ssid: string;
    remoteSerial: string;
    remoteSsid: string;
  }): LinkConnection[];
}

export interface PairManagerOptions {
  readonly dataDir: string;
  readonly serial: string;
  readonly store: Store;
  readonly paths: PairPaths;
  readonly logger?: LinkLogger;
  readonly syncTimeoutMs?: number;
  /**
   * Pairs suspended by a primary restart or a link failure resume by themselves once their path
   * is up (auto-resume.ts); false keeps them suspended for an operator. Default true.
   */
  readonly autoResume?: boolean;
  /** Tests: how often auto-resume looks at suspended pairs. */
  readonly autoResumeIntervalMs?: number;
  /** The GSC job of the peer that holds a volume here (its target S), if any. */
  readonly jobOf?: (volser: string, peerSerial: string) => JobRef | undefined;
}

interface SecondaryPair {
  record: PairRecord;
  readonly meter: RateMeter;
  /** The volume's inconsistent mark, once asked for in this copy (until the pair is duplex). */
  marking?: Promise<void>;
}

export class PairManager implements PairService {
  private readonly primaries = new Map<string, PrimaryPair>();
  private readonly secondaries = new Map<string, SecondaryPair>();
  private readonly storer: TrackStorer;
  private readonly logger: LinkLogger;
  private writing: Promise<void> = Promise.resolve();
  private autoResume: AutoResume | undefined;

  private constructor(private readonly options: PairManagerOptions) {
    this.storer = new TrackStorer(options.store);
    this.logger = options.logger ?? silentLinkLogger;
  }

  /** Loads the pairs kept in the data dir; primaries come back suspended (primary restart). */
  static async open(options: PairManagerOptions): Promise<PairManager> {
    const manager = new PairManager(options);
    const loaded = await readPairFile(options.dataDir);
    for (const record of loaded) {
      if (record.role === "primary") {
        manager.primaries.set(
          record.volser,
          new PrimaryPair(record, manager.deps(record), { kind: "restart" }),
        );
      } else {
        manager.secondaries.set(record.volser, { record, meter: new RateMeter() });
      }
    }
    // Written again only when a pair changed at the restart (a primary comes back suspended). On
    // a disk too full for it the pairs run as they are and the next save writes them: a restart
    // before that derives the same records from the same file.
    const unchanged = new Set<PairRecord>(loaded);
    if (manager.records().some((record) => !unchanged.has(record))) {
      try {
        await manager.save();
      } catch (error) {
        if (!isDiskFull(error)) throw error;
        manager.logger.warn(
          { error: (error as Error).message },
          "pairs.json keeps the pairs as they were before the restart until the disk has room",
        );
      }
    }
    if (options.autoResume !== false) {
      manager.autoResume = new AutoResume({
        records: () => [...manager.primaries.values()].map((pair) => pair.record),
        reachable: (volser) => manager.primaries.get(volser)?.reachable() ?? false,
        resume: (volser) => manager.resume(volser),
        logger: manager.logger,
        intervalMs: options.autoResumeIntervalMs,
      });
    }
    return manager;
  }

  list(): PairInfo[] {
    const volsers = [...this.primaries.keys(), ...this.secondaries.keys()].sort();
    return volsers.map((volser) => this.show(volser));
  }

  show(volser: string): PairInfo {
    const primary = this.primaries.get(volser);
    if (primary !== undefined) return primary.info();
    const secondary = this.secondaries.get(volser);
    if (secondary === undefined) throw notPaired(volser, "show the pair of");
    const { record, meter } = secondary;
    return {
      volser,
      role: "secondary",
      primary: record.primary,
      secondary: record.secondary,
      mode: record.mode,
      critical: record.critical,
      state: record.state,
      reason: record.reason,
      since: record.since,
      tracksTotal: record.tracksTotal,
      tracksOutOfSync: null,
      tracksToCopy: null,
      bytesSent: meter.bytes,
      rateBytesPerSecond: Math.round(meter.rate(performance.now())),
      etaSeconds: null,
      ...pairJob(record),
    };
  }

  /**
   * `options` are GSC's: copy only the given track runs first (not every track), at most so fast.
   */
  async establish(
    request: EstablishPairRequest,
    options: { copy?: InitialCopy; bytesPerSecond?: number; job?: string } = {},
  ): Promise<PairInfo> {
    const spec = checkEstablishPair(request);
    const what = `Cannot pair ${spec.volser} with ${formatRemoteVolume(spec.remote)}`;
    const volume = this.options.store.showVolume(spec.volser);
    if (this.isPaired(spec.volser)) {
      throw new GsnapError(
        "PAIR_EXISTS",
        `${what}: ${spec.volser} is in a pair (terminate it first)`,
      );
    }
    const reply = await this.openAtSecondary({
      volser: spec.volser,
      remote: spec.remote,
      mode: spec.mode,
      resume: false,
    });
    checkOpened(reply, what, spec.remote.serial);
    // Another establish of the same volume may have finished while this one waited.
    if (this.isPaired(spec.volser)) {
      throw new GsnapError(
        "PAIR_EXISTS",
        `${what}: ${spec.volser} is in a pair (terminate it first)`,
      );
    }
    const record: PairRecord = {
      volser: spec.volser,
      role: "primary",
      primary: `${this.options.serial}.${volume.ssid}.${spec.volser}`,
      secondary: formatRemoteVolume(spec.remote),
      mode: spec.mode,
      critical: spec.critical,
      state: "pending",
      since: new Date().toISOString(),
      tracksTotal: volume.trackCount,
      job: options.job,
    };
    const pair = new PrimaryPair(record, this.deps(record), {
      kind: "new",
      copy: options.copy ?? "all",
      bytesPerSecond: options.bytesPerSecond,
    });
    this.primaries.set(spec.volser, pair);
    await this.save();
    this.logger.info(
      { volser: spec.volser, secondary: record.secondary, mode: spec.mode },
      "pair established",
    );
    pair.start();
    return pair.info();
  }

  async suspend(volser: string): Promise<PairInfo> {
    const pair = this.primary(volser, "suspend");
    if (pair.record.state === "suspended") {
      throw new GsnapError(
        "PAIR_STATE_INVALID",
        `Cannot suspend the pair of ${volser}: it is suspended (${pair.record.reason})`,
      );
    }
    await pair.suspend("operator");
    await pair.notify("suspended", "operator");
    return pair.info();
  }

  async resume(volser: string): Promise<PairInfo> {
    const pair = this.primary(volser, "resume");
    const what = `Cannot resume the pair of ${volser}`;
    if (pair.record.state !== "suspended") {
      throw new GsnapError(
        "PAIR_STATE_INVALID",
        `${what}: it is ${pair.record.state}, not suspended`,
      );
    }
    const remote = parseRemoteVolume(pair.record.secondary);
    const reply = await this.openAtSecondary({
      volser,
      remote,
      mode: pair.record.mode,
      resume: true,
    });
    checkOpened(reply, what, remote.serial);
    await pair.resume();
    this.logger.info({ volser, outOfSync: pair.bitmap.count }, "pair resumed");
    return pair.info();
  }

  async terminate(volser: string): Promise<void> {
    const primary = this.primaries.get(volser);
    if (primary !== undefined) {
      await primary.stop();
      await primary.notify("simplex");
      this.primaries.delete(volser);
      primary.remove();
      await this.save();
      this.logger.info({ volser }, "pair terminated");
      return;
    }
    if (!this.secondaries.delete(volser)) throw notPaired(volser, "terminate the pair of");
    await this.save();
    this.logger.info({ volser }, "pair terminated on its secondary");
  }

  /** Whether the volume is in a pair here, on either side. */
  isPaired(volser: string): boolean {
    return this.primaries.has(volser) || this.secondaries.has(volser);
  }

  isSecondary(volser: string): boolean {
    return this.secondaries.has(volser);
  }

  /** The primary runtime of a volume, for host I/O; undefined when it is no primary. */
  primaryOf(volser: string): PrimaryPair | undefined {
    return this.primaries.get(volser);
  }

  /**
   * Part of a host FLUSH: makes what each sync pair's secondary acknowledged durable there. A pair
   * whose secondary cannot suspends (its tracks marked); rejects only for a critical one.
   */
  async flushSecondaries(): Promise<void> {
    const flushed = await Promise.allSettled(
      [...this.primaries.values()].map((pair) => pair.flushSecondary()),
    );
    const failed = flushed.find((result) => result.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /** Makes every bitmap durable: part of a host FLUSH. */
  syncBitmaps(): void {
    for (const pair of this.primaries.values()) pair.sync();
  }

  /** Stops every copy and closes the bitmaps; pairs.json keeps the pairs for the next start. */
  async close(): Promise<void> {
    this.autoResume?.close();
    await Promise.all([...this.primaries.values()].map((pair) => pair.stop()));
    for (const pair of this.primaries.values()) pair.close();
    await this.writing;
  }

  /** Answers one request of a peer: the secondary side of pairs. Never throws. */
  async handlePeer(request: PeerRequest, peerSerial: string): Promise<PeerReply> {
    switch (request.type) {
      case "CONTROL":
        // Control requests are GSC's (gsc/target-requests.ts), which answers them where it runs;
        // without it, pairs answer FLUSH (a sync primary's host FLUSH) and take no other.
        if (request.op !== ControlOp.FLUSH) return { type: "NACK", reason: NackReason.BUSY };
        return this.flushForPeer();
      case "PAIR_OPEN":
        return this.open(request, peerSerial);
      case "PAIR_STATE":
        return this.changeState(request, peerSerial);
      default: {
        const secondary = this.secondaryFrom(request.volser, peerSerial);
        if (secondary === undefined) return { type: "NACK", reason: NackReason.NOT_PAIRED };
        if (!(await this.markCopying(secondary, peerSerial))) {
          return { type: "NACK", reason: NackReason.IO_ERROR };
        }
        if (request.type === "TRACK_PIECE") {
          const reply = await this.storer.putPiece(request);
          if (reply.type === "ACK") secondary.meter.add(request.lengthBytes, performance.now());
          return reply;
        }
        if (request.type !== "TRACK_BATCH") {
          const reply = await this.storer.put(request);
          if (reply.type === "ACK" && request.type === "TRACK_DATA") {
            secondary.meter.add(request.data.length, performance.now());
          }
          return reply;
        }
        const reply = await this.storer.putBatch(request);
        secondary.meter.add(storedBytes(request, reply), performance.now());
        return reply;
      }
    }
  }

  /**
   * A secondary that takes tracks before its pair is duplex is part old, part new until the copy
   * ends: its volume is marked so, durably, before the first of them is stored. False when the
   * mark could not be made (the tracks are refused).
   */
  private async markCopying(secondary: SecondaryPair, peerSerial: string): Promise<boolean> {
    const { record } = secondary;
    if (record.state === "duplex") return true;
    const job =
      record.job === undefined
        ? this.options.jobOf?.(record.volser, peerSerial)
        : { id: record.job, serial: peerSerial };
    secondary.marking ??= this.options.store.markInconsistent(record.volser, {
      pair: record.primary,
      ...(job === undefined ? {} : { job }),
      since: new Date().toISOString(),
    });
    try {
      await secondary.marking;
      return true;
    } catch (error) {
      secondary.marking = undefined;
      this.logger.warn(
        { volser: record.volser, err: String(error) },
        "cannot mark a secondary inconsistent",
      );
      return false;
    }
  }

  /** CONTROL FLUSH from a primary: every stored write durable, then `{"ok": true}`. */
  private async flushForPeer(): Promise<PeerReply> {
    try {
      await this.options.store.flush();
      return { type: "RESULT", body: JSON.stringify({ ok: true }) };
    } catch (error) {
      const code = error instanceof GsnapError ? error.code : "INTERNAL";
      return { type: "RESULT", body: JSON.stringify({ ok: false, code, message: String(error) }) };
    }
  }

  private async open(request: PairOpenFrame, peerSerial: string): Promise<PeerReply> {
    const volser = request.secondaryVolser;
    const volume = this.options.store
      .listVolumes()
      .find((candidate) => candidate.volser === volser);
    if (volume === undefined || volume.ssid !== request.secondarySsid) {
      return { type: "NACK", reason: NackReason.VOLUME_NOT_FOUND };
    }
    if (
      volume.trackCount !== request.trackCount ||
      volume.trackSizeBytes !== request.trackSizeBytes
    ) {
      return { type: "NACK", reason: NackReason.GEOMETRY_MISMATCH };
    }
    const primary = `${peerSerial}.${request.primarySsid}.${request.primaryVolser}`;
    const existing = this.secondaries.get(volser);
    if (
      this.primaries.has(volser) ||
      (existing !== undefined && existing.record.primary !== primary)
    ) {
      return { type: "NACK", reason: NackReason.PAIR_EXISTS };
    }
    const resume = (request.options & PairOpenOption.RESUME) !== 0;
    if (resume && existing === undefined) return { type: "NACK", reason: NackReason.NOT_PAIRED };
    const mode = modeOf(request.mode);
    const record: PairRecord = {
      volser,
      role: "secondary",
      primary,
      secondary: `${this.options.serial}.${volume.ssid}.${volser}`,
      mode,
      critical: false,
      state: "pending",
      since: new Date().toISOString(),
      tracksTotal: volume.trackCount,
      // The job's S' says whose it is; the pair's frames do not.
      job: volume.job?.serial === peerSerial ? volume.job.id : undefined,
    };
    this.secondaries.set(volser, { record, meter: existing?.meter ?? new RateMeter() });
    await this.save();
    this.logger.info({ volser, primary, resume }, "pair secondary joined");
    return { type: "ACK" };
  }

  private async changeState(request: PairStateFrame, peerSerial: string): Promise<PeerReply> {
    const secondary = this.secondaryFrom(request.secondaryVolser, peerSerial);
    if (secondary === undefined) return { type: "NACK", reason: NackReason.NOT_PAIRED };
    const volser = request.secondaryVolser;
    if (request.state === WirePairState.simplex) {
      this.secondaries.delete(volser);
      this.logger.info({ volser }, "pair terminated by its primary");
    } else {
      const state = stateOf(request.state);
      const reason = state === "suspended" ? reasonOf(request.reason) : undefined;
      // The state changes before anything is awaited: the primary's messages arrive in order (a
      // duplex and, right after it, an operator's suspend), and each must land in that order.
      secondary.record = { ...secondary.record, state, reason, since: new Date().toISOString() };
      if (state === "duplex") {
        // Every track of the copy is here: the volume is whole again (a mark that cannot be
        // cleared stays, which errs on the safe side).
        await this.options.store.markInconsistent(volser, undefined).then(
          () => (secondary.marking = undefined),
          (error) => this.logger.warn({ volser, err: String(error) }, "cannot clear a mark"),
        );
      }
    }
    await this.save();
    return { type: "ACK" };
  }

  private secondaryFrom(volser: string, peerSerial: string): SecondaryPair | undefined {
    const secondary = this.secondaries.get(volser);
    if (secondary === undefined) return undefined;
    return secondary.record.primary.startsWith(`${peerSerial}.`) ? secondary : undefined;
  }

  private primary(volser: string, action: string): PrimaryPair {
    const pair = this.primaries.get(volser);
    if (pair !== undefined) return pair;
    if (this.secondaries.has(volser)) {
      throw new GsnapError(
        "PAIR_STATE_INVALID",
        `Cannot ${action} the pair of ${volser}: this is its secondary; ask the primary's system`,
      );
    }
    throw notPaired(volser, `${action} the pair of`);
  }

  /** Asks the secondary's system to join (or, on resume, rejoin) the pair: PAIR_OPEN. */
  private openAtSecondary(pair: {
    volser: string;
    remote: RemoteVolume;
    mode: PairMode;
    resume: boolean;
  }): Promise<ReplyFrame> {
    const volume = this.options.store.showVolume(pair.volser);
    const [connection] = this.connectionsFor(volume.ssid, pair.remote);
    return connection.request({
      type: "PAIR_OPEN",
      primarySsid: volume.ssid,
      primaryVolser: pair.volser,
      secondarySsid: pair.remote.ssid,
      secondaryVolser: pair.remote.volser,
      mode: WirePairMode[pair.mode],
      trackCount: volume.trackCount,
      trackSizeBytes: volume.trackSizeBytes,
      options: pair.resume ? PairOpenOption.RESUME : 0,
    });
  }

  /** The path's connections from a local SSID to the secondary's subsystem. */
  private connectionsFor(ssid: string, remote: RemoteVolume): LinkConnection[] {
    return this.options.paths.connectionsTo({
      ssid,
      remoteSerial: remote.serial,
      remoteSsid: remote.ssid,
    });
  }

  private deps(record: PairRecord) {
    const volume = this.options.store.showVolume(record.volser);
    const remote = parseRemoteVolume(record.secondary);
    return {
      store: this.options.store,
      dataDir: this.options.dataDir,
      connections: () => this.connectionsFor(volume.ssid, remote),
      save: () => this.save(),
      logger: this.logger,
      syncTimeoutMs: this.options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
    };
  }

  private records(): PairRecord[] {
    return [
      ...[...this.primaries.values()].map((pair) => pair.record),
      ...[...this.secondaries.values()].map((pair) => pair.record),
    ];
  }

  /** Writes pairs.json, one write after another, so the last one written is the newest. */
  private save(): Promise<void> {
    const write = this.writing.then(() => writePairFile(this.options.dataDir, this.records()));
    this.writing = write.catch(() => {});
    return write;
  }
}

function notPaired(volser: string, action: string): GsnapError {
  return new GsnapError("PAIR_NOT_FOUND", `Cannot ${action} ${volser}: it is in no pair`);
}
