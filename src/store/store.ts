// The store: thin CKD volumes over immutable chunks, the public face of store/. It opens a data
// dir (catalog in LMDB, chunks in segment files), runs every change as one catalog transaction,
// and keeps the collector going in the background.
//
// Data dir layout:
//   catalog/      LMDB environment (catalog.ts)
//   segments/     chunk segment files (segment-device.ts)
//   gsnap.lock    pid of the process that has the store open (store-lock.ts)
//   reserve       space set aside for the collector on a full disk (space-reserve.ts)

import fs from "node:fs";
import path from "node:path";
import { isDiskFull } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";
import type { Extent } from "../geometry/address.js";
import { geometryFor } from "../geometry/geometry.js";
import { checkSsid, checkVolser } from "../geometry/names.js";
import { Catalog } from "./catalog.js";
import { type CheckReport, checkStore } from "./checker.js";
import { type ChunkDevice, ChunkNotLocal } from "./chunk-device.js";
import { Collector, type CollectorTotals } from "./collector.js";
import { countMapped, releaseTree, snap } from "./mapping-tree.js";
import { PendingTracks, type TrackSpan, wholeVolume } from "./pending-tracks.js";
import { readTracksAsync, type TrackRun } from "./read-tracks.js";
import { SegmentDevice } from "./segment-device.js";
import { planSnap } from "./snap-plan.js";
import { SpaceReserve } from "./space-reserve.js";
import { takeStoreLock } from "./store-lock.js";
import {
  allocationRuns,
  type ByteRange,
  checkByteRange,
  commitWrite,
  prepareWrite,
  readRangeAsync,
  readTrackImages,
  type StoreParts,
  splitByTracks,
  type TrackImages,
  trackChecksums,
  trackLocations,
  zeroRange,
} from "./track-io.js";
import { commitTrackWrites, prepareTrackWrites, type TrackRunWrite } from "./track-writes.js";
import {
  infoOf,
  treeOf,
  type VolumeInfo,
  type VolumeRecord,
  type VolumeUsage,
} from "./volume-record.js";

export interface StoreOptions {
  /** Makes the chunk device; the default is segment files under the data dir. */
  readonly device?: (
    committedSizes: Map<number, number>,
    dataDir: string,
  ) => ChunkDevice | Promise<ChunkDevice>;
  /**
   * Where the device keeps the chunks: "local" (the default) or "s3://bucket/prefix". The store
   * records it at its first open and refuses to open over chunks kept elsewhere.
   */
  readonly chunkHome?: string;
  /** How often the background collector looks for work; false turns it off (tests). */
  readonly collectorIntervalMs?: number | false;
  /**
   * Bytes kept free for the collector in DATA_DIR/reserve and given to it when the disk fills
   * (space-reserve.ts); 0, the default here, keeps none (`gsnap serve` keeps 64 MiB).
   */
  readonly reserveBytes?: number;
}

export interface CreateVolumeRequest {
  readonly volser: string;
  readonly ssid?: string;
  readonly model?: string;
  readonly cylinders?: number;
  readonly trackSizeBytes?: number;
}

export interface SnapRequest {
  readonly source: { readonly volser: string; readonly extents: readonly Extent[] };
  readonly target: { readonly volser: string; readonly extents?: readonly Extent[] };
}

export interface StoreUsage {
  readonly volumes: number;
  readonly segments: number;
  readonly segmentBytes: number;
  readonly liveBytes: number;
  readonly collector: CollectorTotals;
  /** "full" while requests that add data are refused for want of space (space-reserve.ts). */
  readonly space: "room" | "full";
}

/**
 * How often a change that reads chunks fetches them and runs again before it gives up: each fetch
 * puts them in the device's cache, so a second run nearly always finds them.
 */
const FETCH_ATTEMPTS = 4;

/** The collector wakes every 250 ms: space comes back within a second, and an idle look is cheap. */
const COLLECTOR_INTERVAL_MS = 250;

export const DEFAULT_SSID = "0001";

export class Store {
  readonly dataDir: string;
  private readonly parts: StoreParts;
  private readonly collector: Collector;
  private readonly space: SpaceReserve;
  private readonly unlock: () => void;
  private collectorTimer: NodeJS.Timeout | undefined;
  private collecting: Promise<void> | undefined;
  /** Settles once every change requested so far has been handed to the catalog, in order. */
  private queue: Promise<void> = Promise.resolve();
  /** The tracks that changes asked for and not yet settled may remap. */
  private readonly pending = new PendingTracks();
  private closed = false;

  private constructor(
    dataDir: string,
    parts: StoreParts & { space: SpaceReserve; unlock: () => void },
  ) {
    this.dataDir = dataDir;
    this.parts = { catalog: parts.catalog, device: parts.device };
    this.space = parts.space;
    this.unlock = parts.unlock;
    this.collector = new Collector(this.parts, {
      change: (fn) => this.change(fn, undefined, { reads: true }),
      shortOfSpace: () => this.space.mode === "full",
      freeBytes: () => this.space.freeBytes(),
    });
  }

  static async open(dataDir: string, options: StoreOptions = {}): Promise<Store> {
    fs.mkdirSync(dataDir, { recursive: true });
    const space = new SpaceReserve(dataDir, { reserveBytes: options.reserveBytes ?? 0 });
    // On a full disk the lock file may need the reserve's space: the store starts all the same.
    const unlock = space.withRoom(() => takeStoreLock(dataDir));
    try {
      space.open();
      const catalog = new Catalog(path.join(dataDir, "catalog"));
      const committedSizes = new Map(
        [...catalog.segmentStats()].map(([segment, stats]) => [segment, stats.sizeBytes]),
      );
      const makeDevice =
        options.device ??
        ((sizes: Map<number, number>) =>
          new SegmentDevice(path.join(dataDir, "segments"), { committedSizes: sizes }));
      let device: ChunkDevice;
      try {
        catalog.claimChunkHome(options.chunkHome ?? "local");
        device = await makeDevice(committedSizes, dataDir);
      } catch (error) {
        await catalog.close();
        throw error;
      }
      const store = new Store(dataDir, { catalog, device, space, unlock });
      const interval = options.collectorIntervalMs ?? COLLECTOR_INTERVAL_MS;
      if (interval !== false) store.startCollector(interval);
      return store;
    } catch (error) {
      unlock();
      throw error;
    }
  }

  /**
   * Closes the store, after a last flush. A flush that fails (a full or failing disk) still
   * closes everything, then rejects: what it did not make durable is lost only to a power loss.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.collectorTimer);
    let failure: { error: unknown } | undefined;
    try {
      await this.collecting;
      await this.queue;
      await this.parts.catalog.flushed();
      await this.parts.device.sync();
    } catch (error) {
      failure = { error };
    }
    this.parts.device.close();
    await this.parts.catalog.close();
    this.unlock();
    if (failure !== undefined) throw failure.error;
  }

  async createVolume(request: CreateVolumeRequest): Promise<VolumeInfo> {
    const volser = checkVolser(request.volser);
    const ssid = checkSsid(request.ssid ?? DEFAULT_SSID);
    const geometry = geometryFor(request);
    this.space.admit(`create volume "${volser}"`);
    const record: VolumeRecord = {
      volser,
      ssid,
      geometry,
      root: 0,
      readOnly: false,
      createdAt: new Date().toISOString(),
    };
    await this.change(
      () => {
        if (this.parts.catalog.getVolume(volser) !== undefined) {
          throw new GsnapError("VOLUME_EXISTS", `Cannot create volume "${volser}": it exists`);
        }
        this.parts.catalog.putVolume(record);
      },
      undefined,
      { touches: [wholeVolume(volser)] },
    );
    return infoOf(record);
  }

  /**
   * Deletes a volume at once; the collector gives its space back in the background. On a disk
   * so full that the delete's own commit fails, the reserve is given up and the delete runs again.
   */
  async deleteVolume(volser: string): Promise<void> {
    const remove = () =>
      this.change(
        () => {
          const volume = this.volume(volser, "delete");
          releaseTree(this.parts.catalog, treeOf(volume));
          this.parts.catalog.removeVolume(volser);
        },
        undefined,
        { touches: [wholeVolume(volser)] },
      );
    const held = this.space.mode === "room" && this.space.reserveBytes > 0;
    try {
      await remove();
    } catch (error) {
      if (!held || !isDiskFull(error)) throw error;
      await remove();
    }
  }

  async setReadOnly(volser: string, readOnly: boolean): Promise<void> {
    await this.change(() => {
      const volume = this.volume(volser, "change");
      this.parts.catalog.putVolume({ ...volume, readOnly });
    });
  }

  listVolumes(): VolumeInfo[] {
    this.checkOpen();
    return this.parts.catalog.listVolumes().map(infoOf);
  }

  showVolume(volser: string): VolumeUsage {
    this.checkOpen();
    const volume = this.volume(volser, "show");
    const allocatedTracks = countMapped(this.parts.catalog, treeOf(volume));
    return {
      ...infoOf(volume),
      allocatedTracks,
      allocatedBytes: allocatedTracks * volume.geometry.trackSizeBytes,
    };
  }

  /** Reads a byte range, into `into` when given (it must be exactly the range's length). */
  async read(volser: string, range: ByteRange, into?: Buffer): Promise<Buffer> {
    this.checkOpen();
    return readRangeAsync(this.parts, this.volume(volser, "read"), range, into);
  }

  /**
   * Reads the whole tracks of `runs` into consecutive slots of `into` (a copy's batch), each
   * verified; returns each track's stored checksum, undefined where unmapped (slot untouched).
   */
  async readTracks(
    volser: string,
    options: { readonly runs: readonly TrackRun[]; readonly into: Buffer },
  ): Promise<(bigint | undefined)[]> {
    this.checkOpen();
    return readTracksAsync(this.parts, this.volume(volser, "read"), options);
  }

  /**
   * Writes bytes. The tracks the write covers whole go to the chunk device in the background
   * first; the transaction that maps them runs after every change requested before this one.
   * `data` must stay unchanged until the promise settles.
   */
  async write(volser: string, write: { offsetBytes: number; data: Buffer }): Promise<void> {
    this.checkOpen();
    const volume = this.writableVolume(volser, "write");
    this.space.admit(`write volume "${volser}"`);
    const prepared = this.noticeFull(() => prepareWrite(this.parts, volume, write));
    const size = volume.geometry.trackSizeBytes;
    const touches = [
      spanOf(volser, { offsetBytes: write.offsetBytes, lengthBytes: write.data.length }, size),
    ];
    const partialTracks = prepared.partials.map((piece) => Math.floor(piece.offsetBytes / size));
    const commit = (readAhead?: TrackImages) => () =>
      commitWrite(this.parts, this.writableVolume(volser, "write"), prepared, readAhead);
    if (partialTracks.length === 0 || !this.parts.device.remote) {
      await this.change(commit(), prepared.written, { touches });
      return;
    }
    const stable = partialTracks.every(
      (track) => !this.pending.overlaps({ volser, first: track, last: track }),
    );
    if (stable) {
      // No change before this one can remap the tracks it covers in part: read them now (from
      // the object store if need be), and the change takes the images without reading.
      let readAhead: TrackImages | undefined;
      const read = readTrackImages(this.parts, volume, partialTracks).then((images) => {
        readAhead = images;
      });
      await this.change(() => commit(readAhead)(), Promise.all([prepared.written, read]), {
        touches,
      });
      return;
    }
    // An earlier change may remap them: the change reads them itself, fetching what it misses.
    const partials = prepared.partials.map((piece) => ({
      offsetBytes: piece.offsetBytes,
      lengthBytes: piece.data.length,
    }));
    await this.change(
      commit(),
      Promise.all([prepared.written, this.fetchTracks(volume, partials)]),
      { reads: true, touches },
    );
  }

  /**
   * Writes runs of whole tracks whose checksums the caller has verified (a pair's secondary: the
   * link checked each track), all in one change; a track without data is unmapped. The images are
   * kept as they are until the promise settles.
   */
  async writeTracks(volser: string, runs: readonly TrackRunWrite[]): Promise<void> {
    this.checkOpen();
    const volume = this.writableVolume(volser, "write");
    this.space.admit(`write volume "${volser}"`);
    const prepared = this.noticeFull(() => prepareTrackWrites(this.parts, volume, runs));
    await this.change(
      () => commitTrackWrites(this.parts, this.writableVolume(volser, "write"), prepared),
      prepared.written,
      {
        touches: runs.map((run) => ({
          volser,
          first: run.firstTrack,
          last: run.firstTrack + run.tracks.length - 1,
        })),
      },
    );
  }

  /** Zeroes (and unmaps, where whole tracks) a byte range: NBD's TRIM and WRITE_ZEROES. */
  async zero(volser: string, range: ByteRange): Promise<void> {
    this.checkOpen();
    const volume = this.writableVolume(volser, "zero");
    checkByteRange(volume, range, "zero");
    const partials = splitByTracks(range, volume.geometry.trackSizeBytes).partials;
    await this.change(
      () => zeroRange(this.parts, this.writableVolume(volser, "zero"), range),
      this.fetchTracks(volume, partials),
      {
        reads: partials.length > 0,
        touches: [spanOf(volser, range, volume.geometry.trackSizeBytes)],
      },
    );
  }

  /** Which tracks of the range are mapped, as runs: NBD's block status. */
  allocation(volser: string, range: { firstTrack: number; count: number }) {
    this.checkOpen();
    const volume = this.volume(volser, "map");
    const trackSizeBytes = volume.geometry.trackSizeBytes;
    const bytes = {
      offsetBytes: range.firstTrack * trackSizeBytes,
      lengthBytes: range.count * trackSizeBytes,
    };
    checkByteRange(volume, bytes, "map");
    return allocationRuns(this.parts, volume, range);
  }

  /**
   * The stored checksum of each track of the range (0n: unmapped), from the catalog: no track is
   * read. Two tracks with the same non-zero checksum hold the same bytes, as far as xxHash64 can
   * tell (a 1 in 2^64 chance per pair of otherwise).
   */
  trackChecksums(volser: string, range: { firstTrack: number; count: number }): bigint[] {
    this.checkOpen();
    const volume = this.volume(volser, "read checksums of");
    const trackSizeBytes = volume.geometry.trackSizeBytes;
    checkByteRange(
      volume,
      { offsetBytes: range.firstTrack * trackSizeBytes, lengthBytes: range.count * trackSizeBytes },
      "read checksums of",
    );
    return trackChecksums(this.parts, volume, range);
  }

  /** A durability barrier: every write completed before it survives a crash once it resolves. */
  async flush(): Promise<void> {
    this.checkOpen();
    await this.queue;
    try {
      await this.parts.catalog.flushed();
      await this.parts.device.sync();
      await this.parts.catalog.flushed();
    } catch (error) {
      if (isDiskFull(error)) this.space.enterFull();
      throw error;
    }
  }

  /**
   * Copies the mapping of the source extents into the target volume (at the same addresses, or
   * onto the target extents), sharing chunks and whole mapping nodes. All or nothing.
   */
  async snap(request: SnapRequest): Promise<{ tracks: number }> {
    this.checkOpen();
    this.space.admit(`snap to volume "${request.target.volser}"`);
    return this.change(
      () => {
        const { catalog } = this.parts;
        const source = this.volume(request.source.volser, "snap from");
        const target = this.writableVolume(request.target.volser, "snap to");
        const ranges = planSnap({
          source: {
            volser: source.volser,
            geometry: source.geometry,
            extents: request.source.extents,
          },
          target: {
            volser: target.volser,
            geometry: target.geometry,
            extents: request.target.extents,
          },
        });
        let targetTree = treeOf(target);
        for (const range of ranges) {
          const sourceTree = source.volser === target.volser ? targetTree : treeOf(source);
          targetTree = snap(catalog, { source: sourceTree, target: targetTree }, range);
        }
        if (targetTree.root !== target.root)
          catalog.putVolume({ ...target, root: targetTree.root });
        return { tracks: ranges.reduce((sum, range) => sum + range.count, 0) };
      },
      undefined,
      { touches: [wholeVolume(request.target.volser)] },
    );
  }

  /** Runs the collector until it has nothing left to do. */
  async collectGarbage(): Promise<CollectorTotals> {
    this.checkOpen();
    await this.collecting;
    const run = this.collector.runUntilIdle();
    this.collecting = run;
    try {
      await run;
    } finally {
      this.collecting = undefined;
      this.space.tryResume();
    }
    return { ...this.collector.totals };
  }

  /** Verifies every checksum and reference count (the fsck). Run it while nothing else writes. */
  async check(): Promise<CheckReport> {
    this.checkOpen();
    await this.parts.catalog.flushed();
    return await checkStore(this.parts);
  }

  usage(): StoreUsage {
    this.checkOpen();
    let segmentBytes = 0;
    let liveBytes = 0;
    const stats = this.parts.catalog.segmentStats();
    for (const segment of stats.values()) {
      segmentBytes += segment.sizeBytes;
      liveBytes += segment.liveBytes;
    }
    return {
      volumes: this.parts.catalog.listVolumes().length,
      segments: stats.size,
      segmentBytes,
      liveBytes,
      collector: { ...this.collector.totals },
      space: this.space.mode,
    };
  }

  private startCollector(intervalMs: number): void {
    this.collectorTimer = setInterval(() => {
      if (this.collecting !== undefined || this.closed) return;
      this.space.tryResume();
      this.collecting = this.collector
        .runUntilIdle()
        .catch(() => {
          // A failed step (a disk error) is retried at the next tick; the checker reports damage.
        })
        .finally(() => {
          this.collecting = undefined;
        });
    }, intervalMs);
    this.collectorTimer.unref();
  }

  /**
   * Runs `fn` as one catalog change once `ready` settles, after every change requested before it
   * (so that writes to the same tracks land in the order they were asked for), while the waits of
   * different changes (their background I/O) overlap.
   */
  private change<T>(
    fn: () => T,
    ready: Promise<unknown> = Promise.resolve(),
    options: { reads?: boolean; touches?: readonly TrackSpan[] } = {},
  ): Promise<T> {
    this.checkOpen();
    // Only partial writes on a remote device ask which tracks are pending: on a local device the
    // hot path keeps no such record.
    const pendingToken = this.parts.device.remote ? this.pending.add(options.touches ?? []) : 0;
    // The chain below takes `ready`'s failure only when the changes before this one are queued;
    // marking it handled now keeps an early failure from counting as an unhandled rejection,
    // which would end the process.
    ready.catch(() => {});
    let result: Promise<T> | undefined;
    // A change that reads chunks from a remote device may find one gone from the cache, fetch it
    // and run again: the changes after it are handed to the catalog only once it has run through,
    // so none overtakes it. (Once it has run, the catalog keeps the order: its child transactions
    // run and commit in the order they were handed in.)
    const waits = options.reads === true && this.parts.device.remote;
    let ranThrough = noop;
    const ran = new Promise<void>((resolve) => {
      ranThrough = resolve;
    });
    const queued = this.queue
      .then(() => ready)
      .then(
        () => {
          result = this.commit(fn, ranThrough);
        },
        (error: unknown) => {
          result = Promise.reject(error);
        },
      );
    this.queue = waits
      ? queued.then(() => Promise.race([ran, (result as Promise<T>).then(noop, noop)]))
      : queued;
    const settled = queued.then(() => result as Promise<T>);
    // A change that failed for want of space (its append, or the commit of its batch) puts the
    // store in full mode: the reserve goes to the collector, and new data is refused.
    settled.catch((error: unknown) => {
      if (isDiskFull(error)) this.space.enterFull();
    });
    return pendingToken === 0 ? settled : settled.finally(() => this.pending.settle(pendingToken));
  }

  /**
   * One catalog change; if it needed chunks not at hand, fetches them and runs it again. `ran` is
   * called once `fn` has run through in a transaction (returned, or failed for good).
   */
  private async commit<T>(fn: () => T, ran: () => void): Promise<T> {
    const run = () => {
      try {
        const value = fn();
        ran();
        return value;
      } catch (error) {
        if (!(error instanceof ChunkNotLocal)) ran();
        throw error;
      }
    };
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.parts.catalog.change(run);
      } catch (error) {
        if (!(error instanceof ChunkNotLocal)) throw error;
        if (attempt === FETCH_ATTEMPTS) {
          throw new GsnapError(
            "OBJECT_STORE_UNAVAILABLE",
            `Cannot read ${error.locations.length} chunk(s) of segment ${error.locations[0]?.segment}: ` +
              `they left the cache ${FETCH_ATTEMPTS} times before they could be used (is the cache too small?)`,
          );
        }
        await this.parts.device.fetch(error.locations);
      }
    }
  }

  /**
   * Brings the chunks of the tracks a write covers in part at hand before its change runs (it
   * reads them); a hint: the change fetches whatever it still misses.
   */
  private async fetchTracks(volume: VolumeRecord, ranges: readonly ByteRange[]): Promise<void> {
    if (!this.parts.device.remote || ranges.length === 0) return;
    await this.parts.device.fetch(trackLocations(this.parts, volume, ranges));
  }

  /** Runs `fn`; a failure for want of space puts the store in full mode (space-reserve.ts). */
  private noticeFull<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (isDiskFull(error)) this.space.enterFull();
      throw error;
    }
  }

  private volume(volser: string, action: string): VolumeRecord {
    const volume = this.parts.catalog.getVolume(volser);
    if (volume === undefined) {
      throw new GsnapError(
        "VOLUME_NOT_FOUND",
        `Cannot ${action} volume "${volser}": it does not exist`,
      );
    }
    return volume;
  }

  private writableVolume(volser: string, action: string): VolumeRecord {
    const volume = this.volume(volser, action);
    if (volume.readOnly) {
      throw new GsnapError(
        "VOLUME_READ_ONLY",
        `Cannot ${action} volume "${volser}": it is read-only`,
      );
    }
    return volume;
  }

  private checkOpen(): void {
    if (this.closed)
      throw new GsnapError(
        "STORE_CLOSED",
        `Cannot use the store in "${this.dataDir}": it is closed`,
      );
  }
}

function noop(): void {}

/** The tracks a byte range of a volume touches. */
function spanOf(volser: string, range: ByteRange, trackSizeBytes: number): TrackSpan {
  const first = Math.floor(range.offsetBytes / trackSizeBytes);
  const end = range.offsetBytes + Math.max(range.lengthBytes, 1);
  return { volser, first, last: Math.floor((end - 1) / trackSizeBytes) };
}
