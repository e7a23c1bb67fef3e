// One process at a time owns a data dir: two appending to the same segments would corrupt them.
// The lock is a file holding the owner's pid; a lock whose process is gone (killed) is taken over.
// The pid is written in place, padded to LOCK_BYTES, and a closing store blanks it rather than
// deleting the file: taking the lock then reuses the file's block, so a store starts on a full
// disk.

import fs from "node:fs";
import path from "node:path";
import { diskError } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";

const LOCK_FILE = "gsnap.lock";

/** A pid (at most 10 digits on Linux, where pid_max is at most 2^22) padded, and a newline. */
const LOCK_BYTES = 12;

export function takeStoreLock(dataDir: string): () => void {
  const file = path.join(dataDir, LOCK_FILE);
  const holder = readHolder(file);
  if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
    throw new GsnapError(
      "STORE_LOCKED",
      `Cannot open the store in "${dataDir}": process ${holder} has it open`,
    );
  }
  writeHolder(file, process.pid);
  return () => {
    if (readHolder(file) === process.pid) writeHolder(file, 0);
  };
}

/** Writes `pid` (0: nobody) over the file's first bytes, without truncating it first. */
function writeHolder(file: string, pid: number): void {
  const text = `${String(pid).padEnd(LOCK_BYTES - 1)}\n`;
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
    try {
      fs.writeSync(fd, text, 0);
      fs.ftruncateSync(fd, LOCK_BYTES);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    throw diskError(`take the lock "${file}"`, error);
  }
}

function readHolder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
