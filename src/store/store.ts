// The store: thin CKD volumes over immutable chunks, the public face of store/. It opens a data
// dir (catalog in LMDB, chunks in segment files), runs every change as one catalog transaction,
// and keeps the collector going in the background.
//
// Data dir layout:
//   catalog/      LMDB environment (catalog.ts)
//   segments/     chunk segment files (segment-device.ts)
//   journal/      the write-back journal of small host writes (journal.ts)
//   gsnap.lock    pid of the process that has the store open (store-lock.ts)
//   reserve       space set aside for the collector on a full disk (space-reserve.ts)

import assert from "node:assert";
import fs from "node:fs";
import path from "node:path";
import { isDiskFull } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";
import type { Extent } from "../geometry/address.js";
import { geometryFor } from "../geometry/geometry.js";
import { checkSsid, checkVolser, DEFAULT_SSID } from "../geometry/names.js";
import { Catalog } from "./catalog.js";
import { type CheckReport, checkStore } from "./checker.js";
import { chunkChecksum } from "./checksum.js";
import { type ChunkDevice, ChunkNotLocal } from "./chunk-device.js";
import { Collector, type CollectorTotals } from "./collector.js";
import { Journal } from "./journal.js";
import { JournalMerger } from "./journal-merger.js";
import { applyEntries, piecesOf, routeRange } from "./journal-overlay.js";
import { countMapped, lookup, NONE, releaseTree, snap } from "./mapping-tree.js";
import { readTracksAsync, type TrackReads, type TrackRun } from "./read-tracks.js";
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
  type StoreParts,
  splitByTracks,
  trackChecksums,
  zeroRange,
} from "./track-io.js";
import { commitTrackWrites, prepareTrackWrites, type TrackRunWrite } from "./track-writes.js";
import {
  type InconsistentMark,
  incarnationOf,
  infoOf,
  type JobRef,
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
  /** The most bytes the write-back journal holds before host writes wait for merges. */
  readonly journalBytes?: number;
  /** Bytes per journal file (tests make them small to exercise rotation). */
  readonly journalFileBytes?: number;
  /**
   * How long the journal must see no append before the merger empties it; false: it merges only
   * when the journal is half full (tests).
   */
  readonly mergeIdleMs?: number | false;
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
  /** GSC only: the job whose intermediate the volume is (it deletes the volume when it ends). */
  readonly job?: JobRef;
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
  readonly journal: JournalUsage;
}

/** The write-back journal: what it holds that is not merged into chunks yet, and its size. */
export interface JournalUsage {
  /** Journaled writes and zeroes not yet merged. */
  readonly entries: number;
  /** Bytes of its files in use, merged records included until their file is given back. */
  readonly usedBytes: number;
  readonly capacityBytes: number;
}

/**
 * How often a change that reads chunks fetches them and runs again before it gives up: each fetch
 * puts them in the device's cache, so a second run nearly always finds them.
 */
const FETCH_ATTEMPTS = 4;

/** The collector wakes every 250 ms: space comes back within a second, and an idle look is cheap. */
const COLLECTOR_INTERVAL_MS = 250;

/** 128 MiB of journal: about 32,000 random 4 KiB writes before the merger must keep up. */
export const DEFAULT_JOURNAL_BYTES = 128 * 1024 * 1024;

/** The merger empties the journal once no append came for this long. */
const MERGE_IDLE_MS = 1_000;

export class Store {
  readonly dataDir: string;
  private readonly parts: StoreParts;
  private readonly journal: Journal;
  private readonly collector: Collector;
  private readonly space: SpaceReserve;
  private readonly unlock: () => void;
  private collectorTimer: NodeJS.Timeout | undefined;
  private collecting: Promise<void> | undefined;
  /** Settles once every change requested so far has been handed to the catalog, in order. */
  private queue: Promise<void> = Promise.resolve();
  /** Settles once the last change requested so far has settled. */
  private lastChange: Promise<unknown> = Promise.resolve();
  private readonly merger: JournalMerger;
  private closed = false;

  private constructor(
    dataDir: string,
    parts: StoreParts & { journal: Journal; space: SpaceReserve; unlock: () => void },
    mergeIdleMs: number | false,
  ) {
    this.dataDir = dataDir;
    this.parts = { catalog: parts.catalog, device: parts.device };
    this.journal = parts.journal;
    this.space = parts.space;
    this.unlock = parts.unlock;
    this.merger = new JournalMerger(
      {
        parts: this.parts,
        journal: this.journal,
        lastChange: () => this.lastChange,
        change: (fn, ready) => this.change(fn, ready, { reads: true }),
      },
      mergeIdleMs,
    );
    this.collector = new Collector(this.parts, {
      change: (fn) => this.change(fn),
      shortOfSpace: () => this.space.mode === "full",
      freeBytes: () => this.space.freeBytes(),
    });
  }

  static async open(dataDir: string, options: StoreOptions = {}): Promise<Store> {
    fs.mkdirSync(dataDir, { recursive: true });
    const space = new SpaceReserve(dataDir, { reserveBytes: options.reserveBytes ?? 0 });
    // On a full disk the lock file may need the reserve's space: the store starts all the same.
    const unlock = await takeStoreLock(dataDir, (write) => space.withRoom(write));
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
      let journal: Journal;
      try {
        journal = Journal.open(path.join(dataDir, "journal"), {
          capacityBytes: options.journalBytes ?? DEFAULT_JOURNAL_BYTES,
          fileBytes: options.journalFileBytes,
          mergedThrough: catalog.journalMergedThrough(),
          isLive: (volser, incarnation, track) => {
            const volume = catalog.getVolume(volser);
            return (
              incarnationOf(volume) === incarnation &&
              track < treeOf(volume as VolumeRecord).trackCount
            );
          },
        });
      } catch (error) {
        device.close();
        await catalog.close();
        throw error;
      }
      const store = new Store(
        dataDir,
        { catalog, device, journal, space, unlock },
        options.mergeIdleMs ?? MERGE_IDLE_MS,
      );
      const interval = options.collectorIntervalMs ?? COLLECTOR_INTERVAL_MS;
      if (interval !== false) store.startCollector(interval);
      store.merger.start();
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
    // No merge starts from here on; the ones under way settle.
    const merged = this.merger.stop();
    let failure: { error: unknown } | undefined;
    try {
      await this.collecting;
      await merged;
      await this.queue;
      await this.parts.catalog.flushed();
      await this.journal.waitForAppends();
      await Promise.all([this.parts.device.sync(), this.journal.sync()]);
    } catch (error) {
      failure = { error };
    }
    await this.parts.device.settled();
    this.journal.close();
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
    const record = await this.change(() => {
      if (this.parts.catalog.getVolume(volser) !== undefined) {
        throw new GsnapError("VOLUME_EXISTS", `Cannot create volume "${volser}": it exists`);
      }
      const created: VolumeRecord = {
        volser,
        ssid,
        geometry,
        root: 0,
        readOnly: false,
        createdAt: new Date().toISOString(),
        incarnation: this.parts.catalog.nextIncarnation(),
        ...(request.job === undefined ? {} : { job: jobRef(request.job) }),
      };
      this.parts.catalog.putVolume(created);
      return created;
    });
    return infoOf(record);
  }

  /** Deletes a volume at once; the collector gives its space back in the background. */
  async deleteVolume(volser: string): Promise<void> {
    const remove = () =>
      this.change(() => {
        const volume = this.volume(volser, "delete");
        releaseTree(this.parts.catalog, treeOf(volume));
        this.parts.catalog.removeVolume(volser);
        return incarnationOf(volume);
      });
    // On a disk so full that the delete's own commit fails, the reserve is given up and the
    // delete runs again.
    const held = this.space.mode === "room" && this.space.reserveBytes > 0;
    let incarnation: number;
    try {
      incarnation = await remove();
    } catch (error) {
      if (!held || !isDiskFull(error)) throw error;
      incarnation = await remove();
    }
    // Its journaled writes die with it; replay knows them by their incarnation.
    this.journal.index.dropVolume(volser, incarnation);
  }

  async setReadOnly(volser: string, readOnly: boolean): Promise<void> {
    await this.change(() => {
      const volume = this.volume(volser, "change");
      this.parts.catalog.putVolume({ ...volume, readOnly });
    });
  }

  /**
   * Marks a volume part old, part new (keeping an earlier mark and its time), or clears the mark
   * with undefined; durable when it returns, so no track a copy writes after it can outlive it.
   */
  async markInconsistent(volser: string, mark: InconsistentMark | undefined): Promise<void> {
    const changed = await this.change(() => {
      const { inconsistent, ...volume } = this.volume(volser, "mark");
      if ((inconsistent === undefined) === (mark === undefined)) return false;
      this.parts.catalog.putVolume(mark === undefined ? volume : { ...volume, inconsistent: mark });
      return true;
    });
    if (changed) await this.flush();
  }

  listVolumes(): VolumeInfo[] {
    this.checkOpen();
    return this.parts.catalog.listVolumes().map(infoOf);
  }

  showVolume(volser: string): VolumeUsage {
    this.checkOpen();
    const volume = this.volume(volser, "show");
    // Tracks only the journal holds pieces of count too: they read as written.
    const journaled = new Set(
      this.journal.index.entries(volser, 0, treeOf(volume).trackCount - 1).map((e) => e.track),
    );
    let allocatedTracks = countMapped(this.parts.catalog, treeOf(volume));
    for (const track of journaled) {
      const [chunk] = lookup(this.parts.catalog, treeOf(volume), { firstTrack: track, count: 1 });
      if (chunk === NONE) allocatedTracks += 1;
    }
    return {
      ...infoOf(volume),
      allocatedTracks,
      allocatedBytes: allocatedTracks * volume.geometry.trackSizeBytes,
    };
  }

  /**
   * Reads a byte range, into `into` when given (it must be exactly the range's length): the
   * chunks, with the journal's entries for the range laid over them, both as they are now.
   */
  async read(volser: string, range: ByteRange, into?: Buffer): Promise<Buffer> {
    this.checkOpen();
    const volume = this.volume(volser, "read");
    checkByteRange(volume, range, "read");
    const size = volume.geometry.trackSizeBytes;
    const overlay =
      range.lengthBytes === 0
        ? []
        : this.journal.load(
            volser,
            Math.floor(range.offsetBytes / size),
            Math.floor((range.offsetBytes + range.lengthBytes - 1) / size),
          );
    const output = await readRangeAsync(this.parts, volume, range, into);
    if (overlay.length > 0) applyEntries(output, range.offsetBytes, size, overlay);
    return output;
  }

  /**
   * Reads the whole tracks of `runs` into consecutive slots of `into` (a copy's batch), each
   * verified; returns each track's checksum, undefined where unmapped (slot untouched), and its
   * block checksums where its chunk record has them. A track with journaled writes is read with
   * them, and its checksum computed (and no block checksums given: the record's are stale).
   */
  async readTracks(
    volser: string,
    options: { readonly runs: readonly TrackRun[]; readonly into: Buffer },
  ): Promise<TrackReads> {
    this.checkOpen();
    const volume = this.volume(volser, "read");
    const overlays = options.runs.map((run) =>
      this.journal.load(volser, run.firstTrack, run.firstTrack + run.count - 1),
    );
    const reads = await readTracksAsync(this.parts, volume, options);
    const { checksums, blockSums } = reads;
    const size = volume.geometry.trackSizeBytes;
    let slot = 0;
    options.runs.forEach((run, i) => {
      const touched = new Set(overlays[i].map(({ entry }) => entry.track));
      for (let track = run.firstTrack; track < run.firstTrack + run.count; track += 1, slot += 1) {
        if (!touched.has(track)) continue;
        const image = options.into.subarray(slot * size, (slot + 1) * size);
        if (checksums[slot] === undefined) image.fill(0);
        applyEntries(image, track * size, size, overlays[i]);
        checksums[slot] = chunkChecksum(image);
        blockSums[slot] = undefined;
      }
    });
    return reads;
  }

  /**
   * Writes bytes. The tracks the write covers whole go to the chunk device in the background
   * and are mapped by a change that runs after every change requested before this one; the
   * pieces of tracks it covers in part go to the journal, as does all of a write that touches a
   * track the journal holds pieces of (so that it lands after them). `data` must stay unchanged
   * until the promise settles.
   */
  async write(volser: string, write: { offsetBytes: number; data: Buffer }): Promise<void> {
    this.checkOpen();
    const volume = this.writableVolume(volser, "write");
    const range = { offsetBytes: write.offsetBytes, lengthBytes: write.data.length };
    checkByteRange(volume, range, "write");
    if (range.lengthBytes === 0) return;
    this.space.admit(`write volume "${volser}"`);
    const route = this.route(volume, range);
    const bytesOf = (piece: ByteRange) =>
      write.data.subarray(
        piece.offsetBytes - write.offsetBytes,
        piece.offsetBytes - write.offsetBytes + piece.lengthBytes,
      );
    const mapped = route.direct.map((run) => {
      const prepared = this.noticeFull(() =>
        prepareWrite(this.parts, volume, { offsetBytes: run.offsetBytes, data: bytesOf(run) }),
      );
      return this.change(
        () => commitWrite(this.parts, this.writableVolume(volser, "write"), prepared),
        prepared.written,
      );
    });
    const journaled = route.journal.map((piece) => this.append(volume, piece, bytesOf(piece)));
    await Promise.all([...mapped, ...journaled]);
  }

  /**
   * Writes runs of whole tracks whose checksums the caller has verified (a pair's secondary: the
   * link checked each track), all in one change; a track without data is unmapped. The images are
   * kept as they are until the promise settles.
   */
  async writeTracks(volser: string, runs: readonly TrackRunWrite[]): Promise<void> {
    this.checkOpen();
    const volume = this.writableVolume(volser, "write");
    // The journal's pieces of these tracks are older than these images: merged first, they are
    // replaced by them rather than laid over them.
    this.space.admit(`write volume "${volser}"`);
    if (this.journal.index.hasVolume(volser)) await this.merger.mergeAll();
    const prepared = this.noticeFull(() => prepareTrackWrites(this.parts, volume, runs));
    await this.change(
      () => commitTrackWrites(this.parts, this.writableVolume(volser, "write"), prepared),
      prepared.written,
    );
  }

  /**
   * Zeroes (and unmaps, where whole tracks) a byte range: NBD's TRIM and WRITE_ZEROES. Pieces of
   * tracks go to the journal as zero records, as does all of a range that touches a track the
   * journal holds pieces of.
   */
  async zero(volser: string, range: ByteRange): Promise<void> {
    this.checkOpen();
    const volume = this.writableVolume(volser, "zero");
    checkByteRange(volume, range, "zero");
    if (range.lengthBytes === 0) return;
    const route = this.route(volume, range);
    await Promise.all([
      ...route.direct.map((run) =>
        this.change(() => zeroRange(this.parts, this.writableVolume(volser, "zero"), run)),
      ),
      ...route.journal.map((piece) => this.append(volume, piece)),
    ]);
  }

  /** Which tracks of the range are mapped (or journaled), as runs: NBD's block status. */
  allocation(volser: string, range: { firstTrack: number; count: number }) {
    this.checkOpen();
    const volume = this.volume(volser, "map");
    const trackSizeBytes = volume.geometry.trackSizeBytes;
    const bytes = {
      offsetBytes: range.firstTrack * trackSizeBytes,
      lengthBytes: range.count * trackSizeBytes,
    };
    checkByteRange(volume, bytes, "map");
    const runs = allocationRuns(this.parts, volume, range);
    const last = range.firstTrack + range.count - 1;
    if (range.count === 0 || !this.journal.index.has(volser, range.firstTrack, last)) return runs;
    const journaled = new Set(
      this.journal.index.entries(volser, range.firstTrack, last).map((entry) => entry.track),
    );
    const mapped = (track: number) =>
      journaled.has(track) ||
      runs.some(
        (run) => run.mapped && track >= run.firstTrack && track < run.firstTrack + run.count,
      );
    const merged: typeof runs = [];
    for (let track = range.firstTrack; track <= last; track += 1) {
      const isMapped = mapped(track);
      const tail = merged.at(-1);
      if (tail !== undefined && tail.mapped === isMapped) tail.count += 1;
      else merged.push({ firstTrack: track, count: 1, mapped: isMapped });
    }
    return merged;
  }

  /**
   * The checksum of each track of the range (0n: unmapped), from the catalog: no track is read
   * (the journal's pieces of them are merged first). Two tracks with the same non-zero checksum
   * hold the same bytes, as far as xxHash64 can tell (a 1 in 2^64 chance per pair of otherwise).
   */
  async trackChecksums(
    volser: string,
    range: { firstTrack: number; count: number },
  ): Promise<bigint[]> {
    this.checkOpen();
    const action = "read checksums of";
    const trackSizeBytes = this.volume(volser, action).geometry.trackSizeBytes;
    checkByteRange(
      this.volume(volser, action),
      { offsetBytes: range.firstTrack * trackSizeBytes, lengthBytes: range.count * trackSizeBytes },
      action,
    );
    if (this.journal.index.has(volser, range.firstTrack, range.firstTrack + range.count - 1)) {
      await this.merger.mergeAll();
    }
    return trackChecksums(this.parts, this.volume(volser, action), range);
  }

  /** A durability barrier: every write completed before it survives a crash once it resolves. */
  async flush(): Promise<void> {
    this.checkOpen();
    const journal = this.journal.sync();
    await this.queue;
    try {
      await this.parts.catalog.flushed();
      await this.parts.device.sync();
      await this.parts.catalog.flushed();
      await journal;
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
    // What the journal holds of either volume is merged first: the source's pieces belong in the
    // copy, and the target's are older than it. With an empty journal a snap reads nothing.
    const { index } = this.journal;
    if (index.hasVolume(request.source.volser) || index.hasVolume(request.target.volser)) {
      await this.merger.mergeAll();
    }
    return this.change(() => {
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
      if (targetTree.root !== target.root) catalog.putVolume({ ...target, root: targetTree.root });
      return { tracks: ranges.reduce((sum, range) => sum + range.count, 0) };
    });
  }

  /** Runs the collector until it has nothing left to do. */
  async collectGarbage(): Promise<CollectorTotals> {
    this.checkOpen();
    await this.collecting;
    const run = this.collector.runUntilIdle();
    // Whether it fails or not, close() must not find it still running.
    this.collecting = run.catch(noop);
    try {
      await run;
      // The space of what it cut and removed is back once the device has freed it.
      await this.parts.device.settled();
    } finally {
      this.collecting = undefined;
      this.space.tryResume();
    }
    return { ...this.collector.totals };
  }

  /** Verifies every checksum and reference count (the fsck). Run it while nothing else writes. */
  async check(): Promise<CheckReport> {
    this.checkOpen();
    await this.merger.mergeAll();
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
      journal: {
        entries: this.journal.index.size,
        usedBytes: this.journal.usedBytes,
        capacityBytes: this.journal.capacityBytes,
      },
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
    options: { reads?: boolean } = {},
  ): Promise<T> {
    this.checkOpen();
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
    this.lastChange = settled.catch(noop);
    return settled;
  }

  /**
   * Where the bytes of a write or zero go: pieces of tracks, and whole tracks with journal
   * entries (it must land after them), to the journal; runs of other whole tracks to a change.
   */
  private route(
    volume: VolumeRecord,
    range: ByteRange,
  ): { journal: ByteRange[]; direct: ByteRange[] } {
    const size = volume.geometry.trackSizeBytes;
    const { index } = this.journal;
    const [first, last] = trackSpan(range, size);
    if (index.has(volume.volser, first, last)) {
      return routeRange(range, size, (track) => index.has(volume.volser, track, track));
    }
    const split = splitByTracks(range, size);
    const direct =
      split.wholeTracks === 0
        ? []
        : [{ offsetBytes: split.firstWholeTrack * size, lengthBytes: split.wholeTracks * size }];
    return { journal: split.partials, direct };
  }

  /** Appends a write's (or, without data, a zero's) pieces of a byte range to the journal. */
  private append(volume: VolumeRecord, range: ByteRange, data?: Buffer): Promise<void> {
    const owner = {
      volser: volume.volser,
      incarnation: incarnationOf(volume),
      trackSizeBytes: volume.geometry.trackSizeBytes,
    };
    const appended = this.journal.append(piecesOf(owner, range, data));
    appended.catch((error: unknown) => {
      if (isDiskFull(error)) this.space.enterFull();
    });
    this.merger.appended();
    return appended;
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

/** The first and last track a (non-empty) byte range touches. */
function trackSpan(range: ByteRange, trackSizeBytes: number): [number, number] {
  const first = Math.floor(range.offsetBytes / trackSizeBytes);
  return [first, Math.floor((range.offsetBytes + range.lengthBytes - 1) / trackSizeBytes)];
}

/** Only the two fields of a job's name go into the catalog. */
function jobRef(job: JobRef): JobRef {
  assert(job.id.length > 0, "a volume's job has an id");
  assert(job.serial.length > 0, "a volume's job names its system");
  return { id: job.id, serial: job.serial };
}
