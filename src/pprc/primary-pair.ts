// One pair on its primary side: the state machine, the background copy of out-of-sync tracks, and
// host writes (DESIGN.md §2). The I/O shell around the pure OosBitmap.
//
//   pending    the copy runs until no track is out of sync, then the pair is duplex;
//   duplex     sync mode: every host write is stored here and sent to the secondary before it is
//              acknowledged; copy mode: a host write marks its tracks and the pair is pending
//              again until the copy has sent them;
//   suspended  host writes go on here and mark their tracks (or fail, for a critical sync pair);
//              resume makes the pair pending again.
//
// A sync write that the secondary does not store within the sync timeout suspends the pair (link
// failure, or secondary error when it refused the track); its tracks stay marked.
//
// The secondary acknowledges a write once stored, before it is durable there (its journal is
// synced at a flush). The primary keeps the tracks acknowledged since the secondary last flushed;
// a host FLUSH asks the secondary to flush (flushSecondary), and a pair that suspends or stops
// marks those tracks out of sync, so a secondary that lost its unflushed writes gets them again.

import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { WirePairState, WireSuspendReason } from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";
import type { LinkLogger } from "../link/link-logger.js";
import type { Store } from "../store/store.js";
import {
  flushAtSecondary,
  imagesAfter,
  itemBytes,
  type MirrorItem,
  piecesOf,
  sendMirrorItem,
} from "./mirror-requests.js";
import { OosBitmap } from "./oos-bitmap.js";
import { OosFile } from "./oos-file.js";
import { type PairRecord, pairJob } from "./pair-file.js";
import type { PairInfo, PairState, SuspendReason } from "./pair-service.js";
import { RateMeter } from "./rate-meter.js";
import type { TrackRange } from "./track-feed.js";
import { TrackLocks } from "./track-locks.js";
import { sendTracks } from "./track-sender.js";

export interface PrimaryPairDeps {
  readonly store: Store;
  readonly dataDir: string;
  /** The established connections to the secondary's system; throws PATH_NOT_FOUND or LINK_DOWN. */
  readonly connections: () => LinkConnection[];
  /** Persists every pair record; called after each change of state. */
  readonly save: () => Promise<void>;
  readonly logger: LinkLogger;
  /** How long a sync write waits for the secondary before the pair suspends. */
  readonly syncTimeoutMs: number;
}

/** What a new pair copies first: every track (establish), or the runs given (GSC). */
export type InitialCopy = "all" | readonly TrackRange[];

/** How a pair's runtime starts: new (and what to copy), or from what the data dir kept. */
export type PairStart =
  | { readonly kind: "new"; readonly copy: InitialCopy; readonly bytesPerSecond?: number }
  | { readonly kind: "restart" };

/** A state message to the secondary is worth this long a wait; it is only news. */
const NOTIFY_TIMEOUT_MS = 2_000;

type ActiveState = Exclude<PairState, "simplex">;

export class PrimaryPair {
  private current: PairRecord;
  readonly bitmap: OosBitmap;
  private readonly file: OosFile;
  private readonly locks = new TrackLocks();
  private readonly meter = new RateMeter();
  private readonly trackSizeBytes: number;
  private copying: Promise<void> | undefined;
  private abort: AbortController | undefined;
  /** Host writes running outside sync mirroring (they mark their tracks when done). */
  private recordingWrites = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  /** Called after each change of state. */
  private readonly watchers = new Set<() => void>();
  /** The copy's cap (GSC --bandwidth); undefined: as fast as it goes. */
  private readonly bytesPerSecond: number | undefined;
  /**
   * Tracks of sync writes the secondary acknowledged since it last flushed: stored there but
   * perhaps not durable. Marked out of sync when the pair suspends or stops.
   */
  private unflushed = new Set<number>();

  /**
   * Opens a pair's runtime. A new pair first copies what `start.copy` names, within its bandwidth
   * cap. On a restart the record and the bitmap come from disk, and a pair that was pending or
   * duplex comes back suspended (primary restart): writes in flight at the stop may not have
   * reached the secondary, and the bitmap knows which tracks they were.
   */
  constructor(
    record: PairRecord,
    private readonly deps: PrimaryPairDeps,
    start: PairStart,
  ) {
    const fresh = start.kind === "new";
    this.bytesPerSecond = fresh ? start.bytesPerSecond : undefined;
    const volume = deps.store.showVolume(record.volser);
    this.trackSizeBytes = volume.trackSizeBytes;
    const fileName = OosFile.fileFor(deps.dataDir, record.volser);
    const persisted = fresh ? undefined : OosFile.read(fileName, volume.trackCount);
    // Changes before the file is open are all in the bits it is opened with.
    let file: OosFile | undefined;
    this.bitmap = new OosBitmap(volume.trackCount, persisted, (index) => file?.change(index));
    if (fresh) {
      if (start.copy === "all") this.bitmap.markAll();
      else for (const range of start.copy) this.bitmap.mark(range);
    }
    file = OosFile.open(fileName, volume.trackCount, () => this.bitmap.bits);
    this.file = file;
    this.current =
      !fresh && record.state !== "suspended"
        ? { ...record, state: "suspended", reason: "primary restart", since: now() }
        : record;
  }

  get record(): PairRecord {
    return this.current;
  }

  get volser(): string {
    return this.current.volser;
  }

  info(): PairInfo {
    const nowMs = performance.now();
    const rate = this.meter.rate(nowMs);
    const outOfSync = this.bitmap.count;
    const copyingNow = this.current.state === "pending" && rate > 0;
    return {
      volser: this.current.volser,
      role: "primary",
      primary: this.current.primary,
      secondary: this.current.secondary,
      mode: this.current.mode,
      critical: this.current.critical,
      state: this.current.state,
      reason: this.current.reason,
      since: this.current.since,
      tracksTotal: this.current.tracksTotal,
      tracksOutOfSync: outOfSync,
      tracksToCopy: this.bitmap.tracksToCopy,
      bytesSent: this.meter.bytes,
      rateBytesPerSecond: Math.round(rate),
      etaSeconds: copyingNow ? Math.ceil((outOfSync * this.trackSizeBytes) / rate) : null,
      ...pairJob(this.current),
    };
  }

  /** Whether the pair's path has a link up now. */
  reachable(): boolean {
    return Array.isArray(this.link());
  }

  /** Resolves once the pair is duplex (the copy is done) or suspended (it failed or stopped). */
  settled(): Promise<PairState> {
    return new Promise((resolve) => {
      const check = () => {
        const state = this.current.state;
        if (state !== "duplex" && state !== "suspended" && !this.closed) return;
        this.watchers.delete(check);
        resolve(this.closed ? "suspended" : state);
      };
      this.watchers.add(check);
      check();
    });
  }

  /** Starts (or restarts) the copy of what is out of sync. */
  start(): void {
    if (this.closed || this.current.state !== "pending" || this.copying !== undefined) return;
    this.copying = this.copy().finally(() => {
      this.copying = undefined;
      // Tracks marked after the last pass ended start another.
      if (this.current.state === "pending" && this.bitmap.count > 0) this.start();
    });
  }

  /** Operator suspend: stops the copy; host writes are recorded from now on. */
  async suspend(reason: SuspendReason): Promise<void> {
    if (this.current.state === "suspended") return;
    this.markUnflushed();
    this.abort?.abort(new GsnapError("PAIR_STATE_INVALID", `Pair ${this.volser} suspended`));
    await this.enter("suspended", reason);
    this.deps.logger.warn({ volser: this.volser, reason }, "pair suspended");
  }

  /** After the secondary agreed to resume: copy what is out of sync. */
  async resume(): Promise<void> {
    await this.enter("pending");
    this.start();
  }

  /** Stops the copy and waits for it; the pair is being terminated or the system stops. */
  async stop(): Promise<void> {
    this.markUnflushed();
    this.closed = true;
    for (const watcher of [...this.watchers]) watcher();
    this.abort?.abort(new GsnapError("PAIR_STATE_INVALID", `Pair ${this.volser} stopped`));
    await this.copying;
  }

  /** Closes the bitmap file, keeping it (the system stops). */
  close(): void {
    this.file.close();
  }

  /** Deletes the bitmap file (the pair is terminated). */
  remove(): void {
    this.file.remove();
  }

  /** Makes the bitmap durable: part of a host FLUSH. */
  sync(): void {
    this.file.sync();
  }

  /**
   * Part of a host FLUSH: makes the sync writes the secondary acknowledged so far durable there.
   * When the secondary cannot (link down, no answer within the sync timeout, an error), the pair
   * suspends with their tracks marked, as a sync write that fails does; a critical pair then
   * fails the FLUSH (PAIR_SUSPENDED).
   */
  async flushSecondary(): Promise<void> {
    if (this.unflushed.size === 0) return;
    // What the secondary acknowledged before the request goes is what its flush covers.
    const covered = this.unflushed;
    this.unflushed = new Set();
    const what = { volser: this.volser, secondary: this.current.secondary };
    try {
      const [connection] = this.deps.connections();
      const done = await withTimeout(
        flushAtSecondary(connection, what).then(() => true),
        this.deps.syncTimeoutMs,
      );
      if (done !== true) {
        throw new GsnapError(
          "LINK_DOWN",
          `The secondary of ${this.volser} did not flush within ${this.deps.syncTimeoutMs} ms`,
        );
      }
    } catch (error) {
      for (const track of covered) this.unflushed.add(track);
      if (this.current.state === "suspended") this.markUnflushed();
      else await this.suspend(suspendReasonOf(error));
      this.refuseIfCritical();
    }
  }

  /** Marks the tracks the secondary may not hold durably out of sync (suspend, stop). */
  private markUnflushed(): void {
    if (this.unflushed.size === 0) return;
    for (const track of this.unflushed) this.bitmap.mark({ firstTrack: track, count: 1 });
    this.unflushed.clear();
    this.file.writeNow();
  }

  /** Tells the secondary the pair's state; failures are logged, not thrown. */
  async notify(state: keyof typeof WirePairState, reason?: SuspendReason): Promise<void> {
    const volser = remoteVolser(this.current.secondary);
    try {
      const [connection] = this.deps.connections();
      const reply = await withTimeout(
        connection.request({
          type: "PAIR_STATE",
          secondaryVolser: volser,
          state: WirePairState[state],
          reason: WireSuspendReason[reason ?? "none"],
        }),
        NOTIFY_TIMEOUT_MS,
      );
      if (reply?.type !== "ACK")
        throw new Error(`the secondary answered ${reply?.type ?? "nothing"}`);
    } catch (error) {
      this.deps.logger.info(
        { volser: this.volser, state, err: String(error) },
        "pair state not sent to the secondary",
      );
    }
  }

  /** A host write (NBD WRITE). */
  write(offsetBytes: number, data: Buffer): Promise<void> {
    return this.hostChange(offsetBytes, data.length, data, () =>
      this.deps.store.write(this.volser, { offsetBytes, data }),
    );
  }

  /** A host zero (NBD TRIM, WRITE_ZEROES). */
  zero(offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.hostChange(offsetBytes, lengthBytes, undefined, () =>
      this.deps.store.zero(this.volser, { offsetBytes, lengthBytes }),
    );
  }

  private async hostChange(
    offsetBytes: number,
    lengthBytes: number,
    data: Buffer | undefined,
    apply: () => Promise<void>,
  ): Promise<void> {
    this.refuseIfCritical();
    const range = tracksOf(offsetBytes, lengthBytes, this.trackSizeBytes);
    if (lengthBytes === 0) return apply();
    if (this.mirroring()) {
      const release = await this.locks.acquire(range);
      try {
        // The pair may have suspended while this write waited for its tracks.
        if (this.mirroring())
          return await this.mirror(range, offsetBytes, lengthBytes, data, apply);
      } finally {
        release();
      }
      this.refuseIfCritical();
    }
    return this.recordChange(range, apply);
  }

  private mirroring(): boolean {
    return this.current.mode === "sync" && this.current.state === "duplex";
  }

  private refuseIfCritical(): void {
    if (this.current.critical && this.current.state === "suspended") {
      throw new GsnapError(
        "PAIR_SUSPENDED",
        `Cannot write volume ${this.volser}: its critical pair is suspended ` +
          `(${this.current.reason}); resume the pair or terminate it`,
      );
    }
  }

  /** A write that is not mirrored: its tracks are marked before and after it lands. */
  private async recordChange(range: TrackRange, apply: () => Promise<void>): Promise<void> {
    // Before: a crash after the write landed keeps the mark. After: a copy that read the track
    // before the write landed sends it again.
    this.bitmap.mark(range);
    this.file.writeNow();
    this.recordingWrites += 1;
    try {
      await apply();
    } finally {
      this.recordingWrites -= 1;
      this.bitmap.mark(range);
      if (this.recordingWrites === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
    if (this.current.state === "duplex") await this.enter("pending");
    this.start();
  }

  /** A sync write: stored here and at the secondary before it is acknowledged. */
  private async mirror(
    range: TrackRange,
    offsetBytes: number,
    lengthBytes: number,
    data: Buffer | undefined,
    apply: () => Promise<void>,
  ): Promise<void> {
    this.bitmap.beginSend(range);
    this.file.writeNow();
    const link = this.link();
    let items: MirrorItem[];
    try {
      items =
        Array.isArray(link) && link.every((connection) => connection.carriesPieces)
          ? piecesOf({
              targetVolser: remoteVolser(this.current.secondary),
              range,
              offsetBytes,
              lengthBytes,
              data,
              trackSizeBytes: this.trackSizeBytes,
            })
          : await imagesAfter({
              store: this.deps.store,
              volser: this.volser,
              range,
              offsetBytes,
              lengthBytes,
              data,
              trackSizeBytes: this.trackSizeBytes,
            });
    } catch (error) {
      for (let t = range.firstTrack; t < range.firstTrack + range.count; t += 1) {
        this.bitmap.fail(t);
      }
      throw error;
    }
    const [local, remote] = await Promise.allSettled([apply(), this.send(link, items)]);
    const failed = local.status === "rejected" || remote.status === "rejected";
    for (let t = range.firstTrack; t < range.firstTrack + range.count; t += 1) {
      if (failed) this.bitmap.fail(t);
      else this.bitmap.acknowledge(t);
      if (remote.status === "fulfilled") this.unflushed.add(t);
    }
    // Suspended meanwhile by another write: these tracks are marked like those acknowledged before.
    if (this.current.state === "suspended") this.markUnflushed();
    if (local.status === "rejected") {
      // The secondary may hold what this side failed to store: send this side's tracks again.
      if (remote.status === "fulfilled") {
        await this.enter("pending");
        this.start();
      }
      throw local.reason;
    }
    if (remote.status === "rejected") {
      await this.suspend(suspendReasonOf(remote.reason));
      this.refuseIfCritical();
    }
  }

  /** The path's connections now, or why there are none (a send to them fails with it). */
  private link(): LinkConnection[] | { readonly error: unknown } {
    try {
      return this.deps.connections();
    } catch (error) {
      return { error };
    }
  }

  /** Sends a write's items over the path, spread over its connections, within the sync timeout. */
  private async send(
    link: LinkConnection[] | { readonly error: unknown },
    items: readonly MirrorItem[],
  ): Promise<void> {
    if (!Array.isArray(link)) throw link.error;
    const connections = link;
    const copy = { source: this.volser, target: remoteVolser(this.current.secondary) };
    const sent = Promise.all(
      items.map((item, index) =>
        sendMirrorItem(connections[index % connections.length], copy, item).then(() => {
          this.meter.add(itemBytes(item), performance.now());
        }),
      ),
    );
    const done = await withTimeout(
      sent.then(() => true),
      this.deps.syncTimeoutMs,
    );
    if (done !== true) {
      throw new GsnapError(
        "LINK_DOWN",
        `The secondary of ${this.volser} did not store a write within ${this.deps.syncTimeoutMs} ms`,
      );
    }
  }

  /** Copies out-of-sync tracks, pass after pass, until none is left; then the pair is duplex. */
  private async copy(): Promise<void> {
    while (!this.closed && this.current.state === "pending") {
      if (this.bitmap.count === 0) {
        if (this.recordingWrites > 0) {
          await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
          continue;
        }
        await this.enter("duplex");
        void this.notify("duplex");
        this.deps.logger.info({ volser: this.volser }, "pair duplex");
        return;
      }
      const abort = new AbortController();
      this.abort = abort;
      try {
        await sendTracks({
          store: this.deps.store,
          sourceVolser: this.volser,
          targetVolser: remoteVolser(this.current.secondary),
          source: this.bitmap,
          connections: this.deps.connections(),
          signal: abort.signal,
          bytesPerSecond: this.bytesPerSecond,
          onAcknowledged: (track, bytes) => {
            this.bitmap.acknowledge(track);
            this.meter.add(bytes, performance.now());
          },
        });
      } catch (error) {
        this.bitmap.abandonInFlight();
        if (abort.signal.aborted) return;
        await this.suspend(suspendReasonOf(error));
        return;
      } finally {
        this.abort = undefined;
      }
    }
  }

  private async enter(state: ActiveState, reason?: SuspendReason): Promise<void> {
    // A new copy's progress counts from what is out of sync as it starts.
    if (state === "pending" && this.current.state !== "pending") this.bitmap.beginCopy();
    this.current = { ...this.current, state, reason, since: now() };
    for (const watcher of [...this.watchers]) watcher();
    await this.deps.save();
  }
}

/** Link failures are link failures; anything the secondary refused is a secondary error. */
function suspendReasonOf(error: unknown): SuspendReason {
  if (isGsnapError(error) && (error.code === "LINK_DOWN" || error.code === "PATH_NOT_FOUND")) {
    return "link failure";
  }
  return "secondary error";
}

function tracksOf(offsetBytes: number, lengthBytes: number, trackSizeBytes: number): TrackRange {
  const firstTrack = Math.floor(offsetBytes / trackSizeBytes);
  const end = Math.ceil((offsetBytes + lengthBytes) / trackSizeBytes);
  return { firstTrack, count: Math.max(0, end - firstTrack) };
}

/** The VOLSER of SERIAL.SSID.VOLSER. */
function remoteVolser(name: string): string {
  return name.slice(name.lastIndexOf(".") + 1);
}

/** The promise's value, or undefined when it takes longer than `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function now(): string {
  return new Date().toISOString();
}
