// The GSC jobs of one system on disk (docs/gsc.md, "Crashes and clean-up"): a snapshot, and a log
// of the changes since.
//
// - DATA_DIR/gsc-jobs.json, the snapshot: every job, written whole and synced (temp file, fsync,
//   rename, directory fsync) at start and when the log has grown past MAX_LOG_BYTES.
// - DATA_DIR/gsc-jobs.log: one JSON line per change of a job, holding the whole job as it then
//   was. Where a crash must find what a job decided (the job accepted, naming the P' it is to
//   create; the job ended, with what its clean-up left; a clean-up done later) the line is synced
//   (fdatasync) before the change counts. Every other change (step records, the S' the target
//   named) is appended unsynced, LAZY_SAVE_MS after the first of them, in one write for all: a
//   killed process keeps it; a power loss may cut the log's unsynced end.
//
// Each write is numbered one past the last (`saved`). At start the snapshot is read, then each log
// line numbered past it replaces its job, up to the first line that does not read whole (the end
// a power loss cut); a new snapshot is then written and the log emptied. A change costs the size
// of one job, not of every job kept.

import fs, { type FileHandle } from "node:fs/promises";
import path from "node:path";
import { diskError } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";
import { readJsonFile, writeJsonFile } from "../pprc/json-file.js";
import { checkJobFileContent, type JobRecord, readJobLogLine } from "./job-record.js";

export const JOB_FILE_NAME = "gsc-jobs.json";
export const JOB_LOG_NAME = "gsc-jobs.log";
/**
 * Unsynced changes are written this long after the first of them, in one write: a repeated GSC
 * takes a few hundred milliseconds, so its step records cost one or two writes, and a job shown
 * after a process crash lags its last step by at most this much.
 */
export const LAZY_SAVE_MS = 200;
/**
 * A log past this size (some 1,300 lines of 3 KB) is folded into a new snapshot: reading it at
 * start stays quick, and the snapshot's rewrite (a megabyte with 200 ended jobs kept) comes once
 * in a few hundred jobs.
 */
export const MAX_LOG_BYTES = 4 * 1024 * 1024;

export interface JobFileOptions {
  readonly dataDir: string;
  /** Every job to keep, oldest first: what a snapshot holds. */
  readonly records: () => readonly JobRecord[];
  readonly logger?: { warn(obj: object, msg: string): void };
}

export class JobFile {
  /** Syncs so far: one per synced log line, two per snapshot (the file and its directory). */
  syncs = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly dirty = new Set<JobRecord>();
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly options: JobFileOptions,
    private readonly log: FileHandle,
    private saved: number,
    private logBytes: number,
    /** The jobs found at open, oldest first. */
    readonly loaded: readonly JobRecord[],
  ) {}

  /** Reads the snapshot and the log lines after it. Call `compact` before the next change. */
  static async open(options: JobFileOptions): Promise<JobFile> {
    const snapshotFile = path.join(options.dataDir, JOB_FILE_NAME);
    const value = await readJsonFile(snapshotFile);
    const snapshot =
      value === undefined ? { saved: 0, jobs: [] } : checkJobFileContent(value, snapshotFile);
    const jobs = new Map(snapshot.jobs.map((record) => [record.info.id, record]));
    let saved = snapshot.saved;
    const logFile = path.join(options.dataDir, JOB_LOG_NAME);
    const text = await readText(logFile);
    const lines = text.split("\n");
    for (let index = 0; index < lines.length; index += 1) {
      // Each line ends with a newline, so the last piece is empty unless the end was cut.
      if (index === lines.length - 1 && lines[index] === "") break;
      const line = readJobLogLine(lines[index]);
      if (line === undefined) {
        options.logger?.warn(
          { file: logFile, line: index + 1 },
          "GSC jobs log cut at a line that does not read whole (its unsynced end)",
        );
        break;
      }
      saved = Math.max(saved, line.saved);
      if (line.saved > snapshot.saved) jobs.set(line.job.info.id, line.job);
    }
    const log = await fileAction(logFile, () => fs.open(logFile, "a"));
    return new JobFile(options, log, saved, Buffer.byteLength(text), [...jobs.values()]);
  }

  /** Appends `record` and syncs the log: resolves once the change survives a crash. */
  saveDurably(record: JobRecord): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new GsnapError("IO_ERROR", `Cannot save job ${record.info.id}: the jobs file is closed`),
      );
    }
    this.dirty.add(record);
    return this.enqueue({ sync: true });
  }

  /** Appends `record` unsynced within LAZY_SAVE_MS, with every other change until then. */
  saveSoon(record: JobRecord): void {
    if (this.closed) return;
    this.dirty.add(record);
    if (this.lazyTimer !== undefined) return;
    this.lazyTimer = setTimeout(() => {
      this.lazyTimer = undefined;
      this.enqueue({ sync: false }).catch((error: unknown) => {
        this.options.logger?.warn({ err: String(error) }, "GSC job steps not written");
      });
    }, LAZY_SAVE_MS);
  }

  /** Writes every job as a new snapshot, synced, and empties the log. */
  compact(): Promise<void> {
    const write = this.writing.then(() => this.writeSnapshot());
    this.writing = write.catch(() => {});
    return write;
  }

  /** Writes the changes pending, waits for every write and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.lazyTimer !== undefined) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
      this.enqueue({ sync: false }).catch(() => {});
    }
    this.closed = true;
    await this.writing;
    await this.log.close();
  }

  private enqueue(options: { sync: boolean }): Promise<void> {
    const write = this.writing.then(async () => {
      // This write takes every change made until now: a lazy write pending has nothing left.
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
      const text = [...this.dirty]
        .map((job) => `${JSON.stringify({ saved: ++this.saved, job })}\n`)
        .join("");
      this.dirty.clear();
      const file = path.join(this.options.dataDir, JOB_LOG_NAME);
      if (text.length > 0) {
        await fileAction(file, () => this.log.write(text));
        this.logBytes += Buffer.byteLength(text);
      }
      // Synced even with no line of its own: an unsynced line written before may hold the job.
      if (options.sync) {
        await fileAction(file, () => this.log.datasync());
        this.syncs += 1;
      }
      if (this.logBytes > MAX_LOG_BYTES) await this.writeSnapshot();
    });
    this.writing = write.catch(() => {});
    return write;
  }

  private async writeSnapshot(): Promise<void> {
    const jobs = [...this.options.records()];
    this.dirty.clear();
    await writeJsonFile(path.join(this.options.dataDir, JOB_FILE_NAME), {
      format: 1,
      saved: ++this.saved,
      jobs,
    });
    this.syncs += 2;
    // A crash before the log is emptied leaves lines the snapshot's number says it holds.
    await fileAction(path.join(this.options.dataDir, JOB_LOG_NAME), () => this.log.truncate(0));
    this.logBytes = 0;
  }
}

/** The text of `file`, or "" when it does not exist. */
async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw new GsnapError("IO_ERROR", `Cannot read "${file}": ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Runs a file operation; a failure is NO_SPACE or IO_ERROR naming the file. */
async function fileAction<T>(file: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw diskError(`write "${file}"`, error);
  }
}
