// One process at a time owns a data dir: two appending to the same segments would corrupt them.
// The lock is a file holding the owner's pid; a lock whose process is gone (killed) is taken over.

import fs from "node:fs";
import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";

const LOCK_FILE = "gsnap.lock";

export function takeStoreLock(dataDir: string): () => void {
  const file = path.join(dataDir, LOCK_FILE);
  const holder = readHolder(file);
  if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
    throw new GsnapError(
      "STORE_LOCKED",
      `Cannot open the store in "${dataDir}": process ${holder} has it open`,
    );
  }
  fs.writeFileSync(file, `${process.pid}\n`);
  return () => {
    if (readHolder(file) === process.pid) fs.rmSync(file, { force: true });
  };
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
