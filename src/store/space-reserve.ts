// Space set aside for the collector. A full disk must not stop the store from giving space back:
// deleting a volume commits to the catalog, the collector's steps commit too, and compaction
// copies live chunks before it deletes a segment, and all of that needs free space. So the store
// keeps a file of `reserveBytes` in its data dir, DATA_DIR/reserve, and runs in one of two modes:
//
//   room  the reserve is held (or the store runs without one); every request runs.
//   full  a write, an append or a commit failed for want of space: the reserve file is deleted,
//         so deletes, trims and the collector have its space to work in, and requests that add
//         data (writes, snaps, new volumes) are refused with NO_SPACE at once, before they take
//         any of it. Reads, flushes, deletes and trims go on.
//
//   room -> full  when anything reports a full disk (enterFull).
//   full -> room  when the filesystem has RESUME_FACTOR times the reserve free again (checked by
//                 the collector's timer, tryResume) and the reserve file could be written back.
//
// The reserve's bytes are random, so that a compressing filesystem stores them whole.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isDiskFull } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";

export const RESERVE_FILE = "reserve";

/**
 * 64 MiB: room for thousands of catalog commits (a delete, the release of its mapping nodes, the
 * removal of its segments) and for compacting a quarter-live segment, and under 1% of a 10 GiB disk.
 */
export const DEFAULT_RESERVE_BYTES = 64 * 1024 * 1024;

/**
 * Writes resume once the filesystem has twice the reserve free: once the reserve is written back,
 * as much again is left for data, so one write does not fill the disk and take the store straight
 * back to full.
 */
export const RESUME_FACTOR = 2;

/** The reserve is written in pieces of 1 MiB (one buffer of random bytes, written again and again). */
const WRITE_PIECE_BYTES = 1024 * 1024;

export type SpaceMode = "room" | "full";

/** The pure rule of the full -> room transition. */
export function mayResume(options: { freeBytes: number; reserveBytes: number }): boolean {
  const needed = RESUME_FACTOR * Math.max(options.reserveBytes, WRITE_PIECE_BYTES);
  return options.freeBytes >= needed;
}

export class SpaceReserve {
  readonly reserveBytes: number;
  private readonly dataDir: string;
  private readonly file: string;
  private current: SpaceMode = "room";

  constructor(dataDir: string, options: { reserveBytes: number }) {
    this.dataDir = dataDir;
    this.reserveBytes = options.reserveBytes;
    this.file = path.join(dataDir, RESERVE_FILE);
  }

  get mode(): SpaceMode {
    return this.current;
  }

  /**
   * At open: keeps the reserve file, or writes it. On a disk too full for it the store opens in
   * full mode (it starts, serves reads and lets the collector work) rather than failing.
   */
  open(): void {
    if (this.reserveBytes === 0) {
      fs.rmSync(this.file, { force: true });
      return;
    }
    // Given up already to take the store lock: the disk is full.
    if (this.current === "full" || this.isWhole()) return;
    fs.rmSync(this.file, { force: true });
    if (!this.writeReserve()) this.current = "full";
  }

  /** Something failed for want of space: give the reserve's space to the collector. */
  enterFull(): void {
    if (this.current === "full") return;
    this.current = "full";
    fs.rmSync(this.file, { force: true });
  }

  /** Back to room once the filesystem has room for the reserve and as much again. */
  tryResume(): boolean {
    if (this.current === "room") return true;
    if (!mayResume({ freeBytes: this.freeBytes(), reserveBytes: this.reserveBytes })) return false;
    if (this.reserveBytes > 0 && !this.writeReserve()) return false;
    this.current = "room";
    return true;
  }

  /**
   * Refuses a request that adds data while the disk is full, unless the filesystem has room
   * again (then the reserve is written back first, on the caller's time: once per full spell).
   */
  admit(action: string): void {
    if (this.current === "room" || this.tryResume()) return;
    throw new GsnapError(
      "NO_SPACE",
      `Cannot ${action}: the disk of "${this.dataDir}" is full (${this.freeBytes()} bytes free); ` +
        "delete volumes or trim tracks, and writes resume once the collector has given " +
        `${RESUME_FACTOR * this.reserveBytes} bytes back`,
    );
  }

  /** Bytes an unprivileged process may still write to the data dir's filesystem. */
  freeBytes(): number {
    const stats = fs.statfsSync(this.dataDir);
    return stats.bavail * stats.bsize;
  }

  /** True when the reserve file exists at its full size with every block allocated. */
  private isWhole(): boolean {
    try {
      const stats = fs.statSync(this.file);
      return stats.size === this.reserveBytes && stats.blocks * 512 >= this.reserveBytes;
    } catch {
      return false;
    }
  }

  /**
   * Writes the reserve file whole, in place (a copy beside it would need the space twice); false,
   * and no file, when the disk has no room for it. Not synced: a filesystem counts (and refuses)
   * the space at write(), and a crash that loses some of it leaves a file that is short or not
   * wholly allocated, which the next open writes again.
   */
  private writeReserve(): boolean {
    const piece = randomBytes(Math.min(WRITE_PIECE_BYTES, this.reserveBytes));
    try {
      const fd = fs.openSync(this.file, "w");
      try {
        for (let done = 0; done < this.reserveBytes; ) {
          const length = Math.min(piece.length, this.reserveBytes - done);
          done += fs.writeSync(fd, piece, 0, length, done);
        }
      } finally {
        fs.closeSync(fd);
      }
      return true;
    } catch (error) {
      fs.rmSync(this.file, { force: true });
      if (isDiskFull(error)) return false;
      throw error;
    }
  }

  /**
   * Runs `fn`, and when it fails for want of space while the reserve is held, releases the
   * reserve and runs it once more: what a step that must succeed on a full disk (taking the store
   * lock at start, a delete) does.
   */
  withRoom<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (!isDiskFull(error) || this.current === "full" || this.reserveBytes === 0) throw error;
      this.enterFull();
      return fn();
    }
  }
}
