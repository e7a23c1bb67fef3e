// Keeps a primary's out-of-sync bitmap on disk, DATA_DIR/pairs/VOLSER.oos, so that it survives a
// restart (docs/pairs.md draws the layout):
//
//   0   8   magic "GSNAPOOS"
//   8   4   format, u32 BE = 1
//   12  4   track count, u32 BE
//   16  ..  one bit per track, track t at byte 16 + t/8, bit t%8 (1: out of sync)
//
// Changed bytes are written with pwrite: at once when the caller asks (before a host write that
// marked tracks goes on, so that a crash of the process never loses a mark) and otherwise
// gathered and written on the next turn of the event loop. `sync` makes them durable; the pair
// calls it on a host FLUSH, so a power loss keeps every mark of a flushed write.

import fs from "node:fs";
import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";

const MAGIC = Buffer.from("GSNAPOOS", "latin1");
const FORMAT = 1;
const HEADER_BYTES = 16;

export class OosFile {
  private readonly changed = new Set<number>();
  private scheduled = false;
  /** Bytes written since the last fsync: a FLUSH of a clean bitmap costs nothing. */
  private unsynced = false;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    private readonly bits: () => Uint8Array,
  ) {}

  static fileFor(dataDir: string, volser: string): string {
    return path.join(dataDir, "pairs", `${volser}.oos`);
  }

  /** The persisted bits of a volume's bitmap, or undefined when it has none. */
  static read(file: string, trackCount: number): Uint8Array | undefined {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError("read", file, error);
    }
    const length = HEADER_BYTES + Math.ceil(trackCount / 8);
    if (
      bytes.length !== length ||
      !bytes.subarray(0, 8).equals(MAGIC) ||
      bytes.readUInt32BE(8) !== FORMAT ||
      bytes.readUInt32BE(12) !== trackCount
    ) {
      throw new GsnapError(
        "STORE_FORMAT",
        `Cannot read "${file}": it is not an out-of-sync bitmap of ${trackCount} tracks`,
      );
    }
    return new Uint8Array(bytes.subarray(HEADER_BYTES));
  }

  /** Creates or opens the file and writes every bit `bits()` holds now. */
  static open(file: string, trackCount: number, bits: () => Uint8Array): OosFile {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const fd = fs.openSync(file, "w");
      const header = Buffer.alloc(HEADER_BYTES);
      MAGIC.copy(header, 0);
      header.writeUInt32BE(FORMAT, 8);
      header.writeUInt32BE(trackCount, 12);
      fs.writeSync(fd, header, 0, HEADER_BYTES, 0);
      const all = bits();
      fs.writeSync(fd, all, 0, all.length, HEADER_BYTES);
      fs.fsyncSync(fd);
      return new OosFile(file, fd, bits);
    } catch (error) {
      throw ioError("write", file, error);
    }
  }

  /** Notes a changed byte; it is written on the next turn, or by writeNow. */
  change(byteIndex: number): void {
    this.changed.add(byteIndex);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // Thrown here it would end the process. The bytes stay changed: the next sync (a host
      // FLUSH) writes them again, and fails the FLUSH if it still cannot.
      try {
        this.writeNow();
      } catch {}
    });
  }

  /** Writes every changed byte now, a run of neighbouring bytes at a time. */
  writeNow(): void {
    if (this.closed || this.changed.size === 0) return;
    const indexes = [...this.changed].sort((a, b) => a - b);
    this.changed.clear();
    const bits = this.bits();
    let start = 0;
    for (let i = 1; i <= indexes.length; i += 1) {
      if (i < indexes.length && indexes[i] === indexes[i - 1] + 1) continue;
      const first = indexes[start];
      const count = indexes[i - 1] - first + 1;
      try {
        fs.writeSync(this.fd, bits, first, count, HEADER_BYTES + first);
        this.unsynced = true;
      } catch (error) {
        // Written next time: the bytes of this run and of the runs after it.
        for (const index of indexes.slice(start)) this.changed.add(index);
        throw ioError("write", this.file, error);
      }
      start = i;
    }
  }

  /** Makes every change durable. */
  sync(): void {
    this.writeNow();
    if (this.closed || !this.unsynced) return;
    try {
      fs.fsyncSync(this.fd);
      this.unsynced = false;
    } catch (error) {
      throw ioError("sync", this.file, error);
    }
  }

  close(): void {
    if (this.closed) return;
    this.sync();
    this.closed = true;
    fs.closeSync(this.fd);
  }

  /** Closes and deletes the file: the pair is gone. */
  remove(): void {
    if (!this.closed) {
      this.closed = true;
      fs.closeSync(this.fd);
    }
    fs.rmSync(this.file, { force: true });
  }
}

function ioError(action: string, file: string, error: unknown): GsnapError {
  return new GsnapError("IO_ERROR", `Cannot ${action} "${file}": ${(error as Error).message}`, {
    cause: error,
  });
}
