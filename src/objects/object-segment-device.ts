// The object-store chunk device: chunks are appended to segment files in a local staging dir (the
// local device does that part, with its durability), and each segment, once sealed (full, or idle
// for a while), is uploaded whole as one immutable object; then its staging file goes and its
// chunks are read back with ranged GETs through a bounded block cache. The catalog stays local and
// knows nothing of this: a chunk's location is the same before and after its upload.
//
// Durability: a chunk is referenced once its staging file is synced (as on the local device); the
// staging file is deleted only after the object store has acknowledged the object. A crash at any
// moment leaves each committed segment in staging, in the object store, or both.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";
import {
  CHUNK_HEADER_BYTES,
  type ChunkDevice,
  type ChunkImage,
  type ChunkLocation,
  ChunkNotLocal,
  type ScannedChunk,
} from "../store/chunk-device.js";
import { SegmentDevice } from "../store/segment-device.js";
import { scanRecords } from "../store/segment-format.js";
import type { ObjectStore, ObjectStoreStats } from "./object-store.js";
import { RemoteSegments } from "./remote-segments.js";
import { CLAIM_KEY, SEGMENTS_PREFIX, segmentKey, segmentOfKey } from "./segment-keys.js";

export interface ObjectDeviceOptions {
  readonly store: ObjectStore;
  /** Where segments are staged before their upload (and the store's claim id is kept). */
  readonly stagingDir: string;
  /** A segment is sealed and uploaded past this size (default 32 MiB). */
  readonly segmentBytes?: number;
  /** The read cache's budget (default 256 MiB). */
  readonly cacheBytes?: number;
  /** The unit of caching and of ranged GETs (default 256 KiB). */
  readonly blockBytes?: number;
  /** An active segment that has not grown for this long is sealed and uploaded (default 2 s). */
  readonly sealIdleMs?: number;
  /** Uploads at once (default 2). */
  readonly uploads?: number;
  /** Told of what an operator should know: failed uploads, deletions, missing objects. */
  readonly log?: (level: "info" | "warn" | "error", message: string) => void;
}

export interface ObjectDeviceStats extends ObjectStoreStats {
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly cacheBytes: number;
  readonly cacheEvictions: number;
  /** Segments in staging not yet in the object store, and their bytes. */
  readonly stagedSegments: number;
  readonly stagedBytes: number;
  readonly uploadFailures: number;
}

const DEFAULTS = {
  segmentBytes: 32 * 1024 * 1024,
  cacheBytes: 256 * 1024 * 1024,
  blockBytes: 256 * 1024,
  sealIdleMs: 2_000,
  uploads: 2,
};

/**
 * A GET fetches at most 64 blocks (16 MiB); a sequential reader's misses read 48 blocks (12 MiB)
 * ahead. Blocks are small (256 KiB) so that a random read or a partial write fetches little more
 * than its track.
 */
const MAX_SPAN_BLOCKS = 64;
const READAHEAD_BLOCKS = 48;

/** How often sealing and uploads are looked at. */
const TICK_MS = 100;

/** A failed upload is tried again after 1 s, doubling up to 30 s, until it lands. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export class ObjectSegmentDevice implements ChunkDevice {
  readonly remote = true;
  private readonly store: ObjectStore;
  private readonly local: SegmentDevice;
  private readonly remoteSegments: RemoteSegments;
  private readonly options: Required<Omit<ObjectDeviceOptions, "log">>;
  private readonly log: NonNullable<ObjectDeviceOptions["log"]>;
  private readonly timer: NodeJS.Timeout;
  /** Segments being uploaded, and those the collector removed during their upload. */
  private readonly uploading = new Set<number>();
  private readonly removedWhileUploading = new Set<number>();
  /** When each upload may be tried again after a failure, and its current back-off. */
  private readonly retryAt = new Map<number, { atMs: number; delayMs: number }>();
  /** The size of each active segment at the last tick, and since when it has been that size. */
  private readonly growth = new Map<number, { sizeBytes: number; sinceMs: number }>();
  private readonly waiters: { segments: Set<number>; resolve: () => void }[] = [];
  private uploadFailures = 0;
  /** Buffers of finished uploads, for the next ones (at most `uploads` of them exist). */
  private readonly uploadBuffers: Buffer[] = [];
  private closed = false;

  private constructor(
    options: Required<Omit<ObjectDeviceOptions, "log">>,
    parts: {
      log: NonNullable<ObjectDeviceOptions["log"]>;
      local: SegmentDevice;
      remoteSegments: RemoteSegments;
    },
  ) {
    this.store = options.store;
    this.options = options;
    this.log = parts.log;
    this.local = parts.local;
    this.remoteSegments = parts.remoteSegments;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /**
   * Opens the device: claims the prefix for this store (or refuses one that another store
   * claimed), sorts the committed segments into staged and uploaded ones, and deletes the objects
   * the catalog does not know (uploads whose segment a crash or the collector left behind).
   */
  static async open(
    options: ObjectDeviceOptions,
    committedSizes: Map<number, number>,
  ): Promise<ObjectSegmentDevice> {
    const { store, stagingDir } = options;
    const log = options.log ?? (() => {});
    fs.mkdirSync(stagingDir, { recursive: true });
    await claimPrefix(store, stagingDir);
    const objects = new Map<number, number>();
    for (const object of await store.list(SEGMENTS_PREFIX)) {
      const segment = segmentOfKey(object.key);
      if (segment !== undefined) objects.set(segment, object.sizeBytes);
    }
    const staged = new Set(
      fs.readdirSync(stagingDir).flatMap((name) => segmentOfKey(`${SEGMENTS_PREFIX}${name}`) ?? []),
    );
    const localSizes = new Map<number, number>();
    const merged = withDefaults(options);
    const remoteSegments = new RemoteSegments(
      store,
      {
        blockBytes: merged.blockBytes,
        // Room for the biggest GET and a track either side of it, whatever was asked.
        cacheBytes: Math.max(merged.cacheBytes, (MAX_SPAN_BLOCKS + 4) * merged.blockBytes),
        readaheadBlocks: READAHEAD_BLOCKS,
        maxSpanBlocks: MAX_SPAN_BLOCKS,
      },
      (segment, error) =>
        log("warn", `Cannot delete segment ${segment} from ${store.description}: ${String(error)}`),
    );
    for (const [segment, sizeBytes] of committedSizes) {
      if (staged.has(segment)) localSizes.set(segment, sizeBytes);
      else if (objects.has(segment)) remoteSegments.add(segment, sizeBytes);
      else {
        log(
          "error",
          `Segment ${segment} is in the catalog but neither in staging nor in ${store.description}: its chunks cannot be read`,
        );
        remoteSegments.add(segment, sizeBytes);
      }
    }
    for (const segment of objects.keys()) {
      if (!committedSizes.has(segment)) {
        log(
          "info",
          `Deleting segment ${segment} from ${store.description}: the catalog does not know it`,
        );
        remoteSegments.deleteObject(segment);
      }
    }
    const local = new SegmentDevice(stagingDir, {
      committedSizes: localSizes,
      maxSegmentBytes: merged.segmentBytes,
      // A loop, not Math.max(...): a big store has more segments than a call takes arguments.
      lastKnownSegment: [...committedSizes.keys(), ...objects.keys()].reduce(
        (last, segment) => Math.max(last, segment),
        0,
      ),
    });
    return new ObjectSegmentDevice(merged, { log, local, remoteSegments });
  }

  append(images: readonly ChunkImage[]): ChunkLocation[] {
    return this.local.append(images);
  }

  appendAsync(images: readonly ChunkImage[]): {
    locations: ChunkLocation[];
    written: Promise<void>;
  } {
    return this.local.appendAsync(images);
  }

  readInto(location: ChunkLocation, target: Buffer, targetOffset: number): void {
    if (this.isStaged(location.segment)) {
      this.local.readInto(location, target, targetOffset);
    } else if (!this.remoteSegments.readCached(location, target, targetOffset)) {
      throw new ChunkNotLocal([location]);
    }
  }

  readMany(reads: readonly { location: ChunkLocation; target: Buffer }[]): void {
    const { staged, remote } = this.byPlace(reads);
    const missing: ChunkLocation[] = [];
    for (const read of remote) {
      if (!this.remoteSegments.readCached(read.location, read.target, 0))
        missing.push(read.location);
    }
    if (missing.length > 0) throw new ChunkNotLocal(missing);
    this.local.readMany(staged);
  }

  async readManyAsync(
    reads: readonly { location: ChunkLocation; target: Buffer }[],
  ): Promise<void> {
    const { staged, remote } = this.byPlace(reads);
    await Promise.all([this.local.readManyAsync(staged), this.remoteSegments.readMany(remote)]);
  }

  async fetch(locations: readonly ChunkLocation[]): Promise<void> {
    await this.remoteSegments.fetch(
      locations.filter((location) => !this.isStaged(location.segment)),
    );
  }

  scan(segment: number, window: { fromOffsetBytes: number; maxBytes: number }): ScannedChunk[] {
    if (this.isStaged(segment)) return this.local.scan(segment, window);
    const sizeBytes = this.remoteSegments.sizeOf(segment) ?? 0;
    return scanRecords(segment, sizeBytes, window, (offset, header) => {
      const at = { segment, offsetBytes: offset, lengthBytes: CHUNK_HEADER_BYTES };
      if (!this.remoteSegments.readCached(at, header, 0)) throw new ChunkNotLocal([at]);
    });
  }

  isBusy(segment: number): boolean {
    return (
      this.local.isBusy(segment) ||
      this.uploading.has(segment) ||
      this.remoteSegments.isBusy(segment)
    );
  }

  isActive(segment: number): boolean {
    return this.local.isActive(segment);
  }

  /** Seals a staged active segment: it is uploaded once its appends are done. */
  seal(segment: number): void {
    this.local.seal(segment);
  }

  segmentSizes(): Map<number, number> {
    const sizes = this.remoteSegments.segmentSizes();
    for (const [segment, sizeBytes] of this.local.segmentSizes()) sizes.set(segment, sizeBytes);
    return sizes;
  }

  segmentSize(segment: number): number {
    return this.isStaged(segment)
      ? this.local.segmentSize(segment)
      : (this.remoteSegments.sizeOf(segment) ?? 0);
  }

  async sync(): Promise<void> {
    await this.local.sync();
  }

  /** Cuts a staged segment; one in the object store keeps its bytes until it is removed. */
  cut(segment: number, sizeBytes: number): boolean {
    if (this.isBusy(segment)) return false;
    return this.isStaged(segment) ? this.local.cut(segment, sizeBytes) : true;
  }

  removeSegment(segment: number): void {
    if (this.uploading.has(segment)) {
      // Its object may land after this: the upload deletes it then.
      this.removedWhileUploading.add(segment);
      return;
    }
    this.retryAt.delete(segment);
    if (this.isStaged(segment)) this.local.removeSegment(segment);
    else this.remoteSegments.remove(segment);
  }

  settled(): Promise<void> {
    return this.local.settled();
  }

  close(): void {
    // Uploads under way finish or not: their staging files stay and go up at the next open.
    this.closed = true;
    clearInterval(this.timer);
    this.local.close();
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /**
   * Seals the active segments now and resolves once every segment staged at this call is in the
   * object store (or removed): what a benchmark or an operator waits for before counting the data
   * off this machine.
   */
  async drained(): Promise<void> {
    for (const segment of this.local.activeSegments()) this.local.seal(segment);
    const segments = new Set(this.local.segmentSizes().keys());
    if (segments.size > 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        this.waiters.push({ segments, resolve });
        // Someone waits: the timer keeps the process alive until the uploads are done.
        this.timer.ref();
        this.tick();
      });
    }
    // The staging files of the uploaded segments are deleted in the background.
    await this.local.settled();
  }

  stats(): ObjectDeviceStats {
    const staged = this.local.segmentSizes();
    const cache = this.remoteSegments.cache.stats;
    return {
      ...this.store.stats,
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
      cacheBytes: cache.bytes,
      cacheEvictions: cache.evictions,
      stagedSegments: staged.size,
      stagedBytes: [...staged.values()].reduce((sum, size) => sum + size, 0),
      uploadFailures: this.uploadFailures,
    };
  }

  /** Splits reads into those of staged segments and those of segments in the object store. */
  private byPlace<T extends { location: ChunkLocation }>(
    reads: readonly T[],
  ): { staged: T[]; remote: T[] } {
    const staged: T[] = [];
    const remote: T[] = [];
    for (const read of reads) {
      (this.isStaged(read.location.segment) ? staged : remote).push(read);
    }
    return { staged, remote };
  }

  /** A segment whose chunks are read from its staging file (not yet uploaded, or not yet gone). */
  private isStaged(segment: number): boolean {
    return this.local.segmentSize(segment) > 0 || this.local.isActive(segment);
  }

  /** Seals idle active segments and starts the uploads of sealed ones. */
  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const segment of this.local.activeSegments()) {
      const sizeBytes = this.local.segmentSize(segment);
      const seen = this.growth.get(segment);
      if (seen === undefined || seen.sizeBytes !== sizeBytes) {
        this.growth.set(segment, { sizeBytes, sinceMs: now });
      } else if (sizeBytes > 0 && now - seen.sinceMs >= this.options.sealIdleMs) {
        this.local.seal(segment);
      }
    }
    const staged = this.local.segmentSizes();
    for (const segment of this.growth.keys()) {
      if (!this.local.isActive(segment)) this.growth.delete(segment);
    }
    for (const segment of staged.keys()) {
      if (this.uploading.size >= this.options.uploads) break;
      if (this.local.isActive(segment) || this.local.isBusy(segment)) continue;
      if (this.uploading.has(segment) || (this.retryAt.get(segment)?.atMs ?? 0) > now) continue;
      this.upload(segment);
    }
    for (const waiter of [...this.waiters]) {
      for (const segment of waiter.segments) {
        if (!staged.has(segment)) waiter.segments.delete(segment);
      }
      if (waiter.segments.size === 0) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    if (this.waiters.length === 0) this.timer.unref();
  }

  private upload(segment: number): void {
    this.uploading.add(segment);
    const sizeBytes = this.local.segmentSize(segment);
    // Shared memory, so that the MD5 is computed on a worker thread without a copy; reused, since
    // V8 is slow to collect big shared buffers: a new one per upload grew the heap by a GiB.
    const buffer =
      this.uploadBuffers.pop() ?? Buffer.from(new SharedArrayBuffer(this.options.segmentBytes));
    void this.local
      .readWhole(segment, buffer)
      .then((body) => this.store.put(segmentKey(segment), body))
      .then(
        () => this.uploaded(segment, sizeBytes),
        (error: unknown) => this.uploadFailed(segment, error),
      )
      .finally(() => {
        this.uploadBuffers.push(buffer);
        this.uploading.delete(segment);
        // The next upload starts now, not at the next tick.
        this.tick();
      });
  }

  private uploaded(segment: number, sizeBytes: number): void {
    this.retryAt.delete(segment);
    if (this.removedWhileUploading.delete(segment)) {
      this.remoteSegments.deleteObject(segment);
      if (!this.closed) this.local.removeSegment(segment);
      return;
    }
    if (this.closed) return;
    this.remoteSegments.add(segment, sizeBytes);
    this.local.removeSegment(segment);
  }

  private uploadFailed(segment: number, error: unknown): void {
    // Closing cuts uploads short on purpose: their segments stay staged for the next open.
    if (this.closed) return;
    this.uploadFailures += 1;
    if (this.removedWhileUploading.delete(segment)) {
      // The collector removed it meanwhile: nothing left to upload (an object that did land
      // after all is deleted at the next open).
      this.retryAt.delete(segment);
      this.local.removeSegment(segment);
      return;
    }
    const delayMs = Math.min(
      (this.retryAt.get(segment)?.delayMs ?? RETRY_FIRST_MS / 2) * 2,
      RETRY_MAX_MS,
    );
    this.retryAt.set(segment, { atMs: Date.now() + delayMs, delayMs });
    this.log(
      "warn",
      `Cannot upload segment ${segment} to ${this.store.description} (trying again in ${delayMs} ms; ` +
        `its chunks stay in staging): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** The options with each one not given (or given as undefined) at its default. */
function withDefaults(options: ObjectDeviceOptions): Required<Omit<ObjectDeviceOptions, "log">> {
  return {
    store: options.store,
    stagingDir: options.stagingDir,
    segmentBytes: options.segmentBytes ?? DEFAULTS.segmentBytes,
    cacheBytes: options.cacheBytes ?? DEFAULTS.cacheBytes,
    blockBytes: options.blockBytes ?? DEFAULTS.blockBytes,
    sealIdleMs: options.sealIdleMs ?? DEFAULTS.sealIdleMs,
    uploads: options.uploads ?? DEFAULTS.uploads,
  };
}

/**
 * Makes the prefix this store's: a claim object with the store's id (kept in the staging dir), so
 * that two stores pointed at one bucket and prefix cannot delete each other's segments.
 */
async function claimPrefix(store: ObjectStore, stagingDir: string): Promise<void> {
  const idFile = path.join(stagingDir, "store-id");
  let storeId: string;
  try {
    storeId = fs.readFileSync(idFile, "utf8").trim();
  } catch {
    storeId = crypto.randomUUID();
    fs.writeFileSync(idFile, `${storeId}\n`, { mode: 0o600 });
  }
  // Conditional, so that of two stores starting at once on an empty prefix only one claims it.
  const body = Buffer.from(`${JSON.stringify({ storeId, format: 1 })}\n`);
  if (await store.putIfAbsent(CLAIM_KEY, body)) return;
  const claimed = claimOwner(await store.get(CLAIM_KEY));
  if (claimed !== storeId) {
    const owner = claimed === undefined ? `its ${CLAIM_KEY} names no store id` : claimed;
    throw new GsnapError(
      "OBJECT_STORE_IN_USE",
      `Cannot keep chunks in ${store.description}: it holds the chunks of another store ` +
        `(${owner}; this one is ${storeId}). Choose another bucket or prefix.`,
    );
  }
}

/** The store id a claim object names; undefined for one gone, not JSON, or without an id. */
function claimOwner(claim: Buffer | undefined): string | undefined {
  if (claim === undefined) return undefined;
  try {
    const storeId = (JSON.parse(claim.toString("utf8")) as { storeId?: unknown } | null)?.storeId;
    return typeof storeId === "string" ? storeId : undefined;
  } catch {
    return undefined;
  }
}
