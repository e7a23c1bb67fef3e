// The write-back journal (like ZFS's intent log): small and partial-track host writes are appended
// here as checksummed records and acknowledged at once; FLUSH makes them durable with one
// fdatasync; the merger (store.ts, journal-merge.ts) folds them into track chunks later, in large
// batches. Records live in fixed-size files under DATA_DIR/journal, written from their start; a
// file whose records are all merged (and the merge durable) becomes a spare that the journal
// renames and reuses, so that appends overwrite blocks the file system has already allocated.
// Layout and replay rules: docs/store-format.md, "Journal".

import fs from "node:fs";
import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";
import { type JournalEntry, JournalIndex } from "./journal-index.js";
import type { LoadedEntry } from "./journal-overlay.js";
import {
  dataHash,
  decodeHeader,
  encodeHeader,
  RECORD_HEADER_BYTES,
  type RecordKind,
  recordBytes,
} from "./journal-record.js";
import { deviceError } from "./segment-device.js";

/** A piece of one track for the journal: data to write, or a length to zero. */
export interface JournalPiece {
  readonly kind: RecordKind;
  readonly volser: string;
  readonly incarnation: number;
  readonly track: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** The bytes of a write piece (kept unchanged until the append resolves). */
  readonly data?: Buffer;
}

export interface JournalOptions {
  /** The most bytes of records the journal holds before writes wait for merges. */
  readonly capacityBytes: number;
  /** Bytes per journal file; records never span files. */
  readonly fileBytes?: number;
  /** Every record up to this sequence number is merged (the catalog says so). */
  readonly mergedThrough: number;
  /** Whether a replayed record still belongs to a volume that exists as it did. */
  readonly isLive: (volser: string, incarnation: number, track: number) => boolean;
}

export const DEFAULT_JOURNAL_FILE_BYTES = 16 * 1024 * 1024;

interface JournalFile {
  readonly number: number;
  readonly fd: number;
  /** The newest record in the file; 0 while it has none. */
  lastSeq: number;
}

export class Journal {
  readonly index = new JournalIndex();
  private readonly dir: string;
  private readonly fileBytes: number;
  private readonly maxFiles: number;
  /** Files with records not known to be merged durably, oldest first; the last is appended to. */
  private readonly files: JournalFile[] = [];
  private readonly spares: string[] = [];
  private position = 0;
  private nextSeq: number;
  private nextFileNumber: number;
  private readonly unsynced = new Set<JournalFile>();
  private dirUnsynced = false;
  private syncing: Promise<void> = Promise.resolve();
  private spaceWaiters: { wake: () => void; fail: (error: unknown) => void }[] = [];
  /** Settles when the appends that waited for space are done; undefined when none waits. */
  private waiting: Promise<void> | undefined;
  private closed = false;
  /** Called when a writer waits for space: the merger should run now. */
  onFull: () => void = () => {};

  private constructor(dir: string, options: JournalOptions, nextSeq: number) {
    this.dir = dir;
    this.fileBytes = options.fileBytes ?? DEFAULT_JOURNAL_FILE_BYTES;
    this.maxFiles = Math.max(2, Math.floor(options.capacityBytes / this.fileBytes));
    this.nextSeq = nextSeq;
    this.nextFileNumber = 1;
  }

  /** Opens (creating) the journal in `dir` and replays its records into the index. */
  static open(dir: string, options: JournalOptions): Journal {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const journal = new Journal(dir, options, options.mergedThrough + 1);
    journal.replay(options);
    return journal;
  }

  /** Bytes of records held (merged or not) in files not yet given back. */
  get usedBytes(): number {
    if (this.files.length === 0) return 0;
    return (this.files.length - 1) * this.fileBytes + this.position;
  }

  get capacityBytes(): number {
    return this.maxFiles * this.fileBytes;
  }

  /** True while a writer waits for merges to give space back. */
  get full(): boolean {
    return this.spaceWaiters.length > 0;
  }

  /**
   * Appends records for the pieces, in order, and indexes them; resolves once they are written
   * (to the page cache: durable at the next sync). When the journal is full the rest wait for
   * merges to give space back, and so does every append after them, in order.
   */
  append(pieces: readonly JournalPiece[]): Promise<void> {
    if (this.waiting === undefined) {
      let appended: number;
      try {
        appended = this.appendNow(pieces);
      } catch (error) {
        return Promise.reject(error);
      }
      if (appended === pieces.length) return Promise.resolve();
      pieces = pieces.slice(appended);
    }
    const rest = pieces;
    const run = (this.waiting ?? Promise.resolve()).then(async () => {
      let left = rest;
      while (left.length > 0) {
        if (this.closed)
          throw new GsnapError("STORE_CLOSED", "Cannot write: the journal is closed");
        const appended = this.appendNow(left);
        left = left.slice(appended);
        if (left.length > 0) await this.waitForSpace();
      }
    });
    const waiting = run.finally(() => {
      if (this.waiting === waiting) this.waiting = undefined;
    });
    this.waiting = waiting;
    waiting.catch(() => {});
    return run;
  }

  /** Settles when the appends that waited for space are written (or failed). */
  async waitForAppends(): Promise<void> {
    await this.waiting;
  }

  /** Appends as many of the pieces as there is room for, in one write per file; returns how many. */
  private appendNow(pieces: readonly JournalPiece[]): number {
    const buffers: Buffer[] = [];
    const entries: JournalEntry[] = [];
    let file = this.files.at(-1);
    let start = this.position;
    let appended = 0;
    const writeOut = () => {
      if (file === undefined || buffers.length === 0) return;
      try {
        writeAll(file.fd, buffers, start, `append to journal file ${file.number}`);
      } catch (error) {
        // Nothing of this write counts: the next append goes where it would have gone.
        this.position = start;
        this.nextSeq = entries[0].seq;
        file.lastSeq = entries[0].seq - 1;
        throw error;
      }
      this.unsynced.add(file);
      buffers.length = 0;
      for (const entry of entries) this.index.add(entry);
      entries.length = 0;
    };
    for (const piece of pieces) {
      const bytes = recordBytes(piece);
      if (file === undefined || this.position + bytes > this.fileBytes) {
        writeOut();
        if (this.files.length >= this.maxFiles) break;
        file = this.rotate();
        start = this.position;
      }
      const seq = this.nextSeq++;
      const hash = piece.kind === "write" ? dataHash(piece.data as Buffer) : 0n;
      const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
      encodeHeader({ ...piece, seq, dataHash: hash }, header);
      buffers.push(header);
      if (piece.kind === "write") buffers.push(piece.data as Buffer);
      entries.push({
        seq,
        volser: piece.volser,
        incarnation: piece.incarnation,
        track: piece.track,
        kind: piece.kind,
        offsetBytes: piece.offsetBytes,
        lengthBytes: piece.lengthBytes,
        dataHash: hash,
        file: file.number,
        position: this.position + RECORD_HEADER_BYTES,
      });
      this.position += bytes;
      file.lastSeq = seq;
      appended += 1;
    }
    writeOut();
    return appended;
  }

  /** Reads a write entry's data, verified against its checksum. */
  readData(entry: JournalEntry, into?: Buffer): Buffer {
    const file = this.files.find((candidate) => candidate.number === entry.file);
    if (file === undefined) throw new Error(`journal file ${entry.file} holds no live records`);
    const target = into ?? Buffer.allocUnsafe(entry.lengthBytes);
    let done = 0;
    try {
      while (done < entry.lengthBytes) {
        const read = fs.readSync(
          file.fd,
          target,
          done,
          entry.lengthBytes - done,
          entry.position + done,
        );
        if (read === 0) break;
        done += read;
      }
    } catch (error) {
      throw deviceError(`read journal file ${file.number}`, error);
    }
    if (
      done !== entry.lengthBytes ||
      dataHash(target.subarray(0, entry.lengthBytes)) !== entry.dataHash
    ) {
      throw new GsnapError(
        "JOURNAL_CORRUPT",
        `Cannot read track ${entry.track} of volume "${entry.volser}": its journal record ${entry.seq} fails its checksum`,
      );
    }
    return target;
  }

  /**
   * The entries of tracks [first, last] of a volume with their data read (verified), by track,
   * each track's in order: what a read lays over the chunks it reads at the same moment.
   */
  load(volser: string, first: number, last: number): LoadedEntry[] {
    return this.index.entries(volser, first, last).map((entry) => ({
      entry,
      data: entry.kind === "write" ? this.readData(entry) : undefined,
    }));
  }

  /** A durability barrier for every record appended before it. */
  sync(): Promise<void> {
    const sync = this.syncing.then(
      () => this.syncNow(),
      () => this.syncNow(),
    );
    this.syncing = sync;
    return sync;
  }

  /**
   * Gives back the files whose records are all merged, now that the merge through `seq` is
   * durable: they become spares. The file appended to stays.
   */
  reclaim(seq: number): void {
    while (this.files.length > 1 && this.files[0].lastSeq <= seq) {
      const file = this.files.shift() as JournalFile;
      this.unsynced.delete(file);
      // A sync in flight may still name its descriptor (fdatasync on the thread pool): it is
      // closed once the syncs asked so far are done, never under one (EBADF, or another file's).
      const { fd } = file;
      const close = () => fs.close(fd, () => {});
      this.syncing.then(close, close);
      const spare = path.join(this.dir, `spare-${file.number}.jnl`);
      fs.renameSync(this.fileName(file.number), spare);
      this.spares.push(spare);
      this.dirUnsynced = true;
    }
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const waiter of waiters) waiter.wake();
  }

  /**
   * Fails the appends waiting for space with the error that kept the merger from giving any back
   * (a full or failing disk): a host gets the error rather than waiting for ever.
   */
  failWaiting(error: unknown): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const waiter of waiters) waiter.fail(error);
  }

  close(): void {
    this.closed = true;
    for (const file of this.files) fs.closeSync(file.fd);
    this.files.length = 0;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const waiter of waiters) waiter.wake();
  }

  private waitForSpace(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.spaceWaiters.push({ wake: resolve, fail: reject });
      this.onFull();
    });
  }

  /** Starts the next file: a spare renamed, or a new one. */
  private rotate(): JournalFile {
    const number = this.nextFileNumber++;
    const name = this.fileName(number);
    const spare = this.spares.shift();
    try {
      if (spare !== undefined) fs.renameSync(spare, name);
      const fd = fs.openSync(name, spare !== undefined ? "r+" : "w+", 0o600);
      const file: JournalFile = { number, fd, lastSeq: 0 };
      this.files.push(file);
      this.position = 0;
      this.dirUnsynced = true;
      return file;
    } catch (error) {
      throw deviceError(`start journal file ${number}`, error);
    }
  }

  private async syncNow(): Promise<void> {
    const files = [...this.unsynced];
    this.unsynced.clear();
    const dirUnsynced = this.dirUnsynced;
    this.dirUnsynced = false;
    try {
      await Promise.all(files.map((file) => fdatasync(file.fd)));
      if (dirUnsynced) await syncDir(this.dir);
    } catch (error) {
      for (const file of files) if (this.files.includes(file)) this.unsynced.add(file);
      this.dirUnsynced ||= dirUnsynced;
      throw deviceError("sync the journal", error);
    }
  }

  private fileName(number: number): string {
    return path.join(this.dir, `${String(number).padStart(8, "0")}.jnl`);
  }

  /**
   * Reads the journal files in order and indexes every sound record past the merged ones, up to
   * the first record that is not sound or not the next in sequence: nothing after it was
   * acknowledged by a flush (a flush syncs every record before it). A file's records end where
   * the next file's first record continues the sequence; files past the end become spares.
   */
  private replay(options: JournalOptions): void {
    const names = fs.readdirSync(this.dir);
    for (const name of names) {
      if (/^spare-\d+\.jnl$/.test(name)) this.spares.push(path.join(this.dir, name));
    }
    const numbers = names
      .filter((name) => /^\d{8}\.jnl$/.test(name))
      .map((name) => Number(name.slice(0, 8)))
      .sort((a, b) => a - b);
    let expected: number | undefined;
    let ended = false;
    for (const number of numbers) {
      this.nextFileNumber = number + 1;
      const fd = ended ? undefined : fs.openSync(this.fileName(number), "r+");
      const file: JournalFile | undefined =
        fd === undefined ? undefined : { number, fd, lastSeq: 0 };
      if (file !== undefined) {
        this.files.push(file);
        const scan = this.scanFile(file, expected, options);
        if (scan.records > 0) {
          this.position = scan.end;
          expected = scan.nextSeq;
          continue;
        }
        this.files.pop();
        fs.closeSync(file.fd);
      }
      ended = true;
      const spare = path.join(this.dir, `spare-${number}.jnl`);
      fs.renameSync(this.fileName(number), spare);
      this.spares.push(spare);
    }
    if (expected !== undefined) this.nextSeq = Math.max(this.nextSeq, expected);
    // Files wholly merged (all but the last) are spares at once.
    this.reclaim(options.mergedThrough);
  }

  private scanFile(
    file: JournalFile,
    expectedSeq: number | undefined,
    options: JournalOptions,
  ): { end: number; nextSeq: number | undefined; records: number } {
    const size = fs.fstatSync(file.fd).size;
    let expected = expectedSeq;
    let at = 0;
    let records = 0;
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    while (at + RECORD_HEADER_BYTES <= size) {
      fs.readSync(file.fd, header, 0, RECORD_HEADER_BYTES, at);
      const record = decodeHeader(header);
      if (record === undefined || (expected !== undefined && record.seq !== expected)) break;
      const bytes = recordBytes(record);
      if (at + bytes > size || bytes > this.fileBytes) break;
      const entry: JournalEntry = {
        ...record,
        file: file.number,
        position: at + RECORD_HEADER_BYTES,
      };
      if (record.kind === "write" && record.seq > options.mergedThrough) {
        try {
          this.readData(entry);
        } catch {
          break;
        }
      }
      at += bytes;
      records += 1;
      expected = record.seq + 1;
      file.lastSeq = record.seq;
      const live = options.isLive(record.volser, record.incarnation, record.track);
      if (record.seq > options.mergedThrough && live) this.index.add(entry);
    }
    return { end: at, nextSeq: expected, records };
  }
}

function writeAll(fd: number, buffers: Buffer[], position: number, action: string): void {
  let at = position;
  let parts = buffers;
  try {
    while (parts.length > 0) {
      let written = fs.writevSync(fd, parts, at);
      at += written;
      const rest: Buffer[] = [];
      for (const part of parts) {
        if (written >= part.length) {
          written -= part.length;
          continue;
        }
        rest.push(written > 0 ? part.subarray(written) : part);
        written = 0;
      }
      parts = rest;
    }
  } catch (error) {
    throw deviceError(action, error);
  }
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())),
  );
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
