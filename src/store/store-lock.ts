// One process at a time owns a data dir: two appending to the same segments would corrupt them.
//
// The lock is a Unix socket in Linux's abstract namespace, named after the data dir's device and
// inode: binding it is atomic (two processes starting at once cannot both win), and the kernel
// releases it when the process ends however it ends (SIGKILL, a crash), before the process is even
// reaped, and with the machine. So a dead holder never keeps a restart out, and a process that
// happens to get a dead holder's pid after a reboot holds nothing.
//
// The holder also writes its pid into gsnap.lock, which only names it in the refusal. The pid is
// written in place, padded to LOCK_BYTES, and a closing store blanks it rather than deleting the
// file: taking the lock then reuses the file's block, so a store starts on a full disk.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { diskError } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";

const LOCK_FILE = "gsnap.lock";

/** A pid (at most 10 digits on Linux, where pid_max is at most 2^22) padded, and a newline. */
const LOCK_BYTES = 12;

/**
 * Takes the data dir's lock, or refuses with STORE_LOCKED; answers the release. `record` runs the
 * write of this process's pid into gsnap.lock (the caller may give it room on a full disk).
 */
export async function takeStoreLock(
  dataDir: string,
  record: (write: () => void) => void = (write) => write(),
): Promise<() => void> {
  const file = path.join(dataDir, LOCK_FILE);
  const { dev, ino } = fs.statSync(dataDir);
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ path: `\0gsnap-store-${dev}-${ino}` }, () => resolve());
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") {
      throw diskError(`take the lock of "${dataDir}"`, error);
    }
    const holder = readHolder(file);
    throw new GsnapError(
      "STORE_LOCKED",
      `Cannot open the store in "${dataDir}": ${holder === undefined ? "another process" : `process ${holder}`} has it open`,
    );
  }
  // The lock holds no one's event loop open.
  server.unref();
  try {
    record(() => writeHolder(file, process.pid));
  } catch (error) {
    server.close();
    throw error;
  }
  return () => {
    if (readHolder(file) === process.pid) writeHolder(file, 0);
    server.close();
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
