// A real small filesystem for the full-disk tests: a tmpfs of a few MiB mounted on a temp dir, so
// that ENOSPC comes from the kernel, for segment appends, catalog commits and small files alike,
// not from a fake device. Mounting takes root (or CAP_SYS_ADMIN); the tests skip with the reason
// mountSkipReason() gives when that is not at hand.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

let skipReason: string | undefined;

/** "" when this process can mount a tmpfs; otherwise why not, for the skipped test's name. */
export function mountSkipReason(): string {
  if (skipReason !== undefined) return skipReason;
  try {
    const probe = mountSmallFilesystem({ sizeBytes: 1024 * 1024 });
    probe.unmount();
    skipReason = "";
  } catch (error) {
    skipReason = `(skipped: cannot mount a tmpfs: ${(error as Error).message.split("\n")[0]})`;
  }
  return skipReason;
}

export interface SmallFilesystem {
  /** Where it is mounted. */
  readonly dir: string;
  /** Bytes an unprivileged process may still write there (statfs). */
  freeBytes(): number;
  /** Fills what is left with a file of its own; returns the file (delete it to free the space). */
  fill(name?: string): string;
  /** Unmounts (lazily, so that a file still open does not keep it) and removes the mount point. */
  unmount(): void;
}

/**
 * Mounts a tmpfs of `sizeBytes` (rounded up to pages by the kernel) on a new temp dir; `inodes`
 * caps how many files it holds (a full inode table is ENOSPC too).
 */
export function mountSmallFilesystem(options: {
  sizeBytes: number;
  inodes?: number;
}): SmallFilesystem {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-small-fs-"));
  const settings = [`size=${options.sizeBytes}`];
  if (options.inodes !== undefined) settings.push(`nr_inodes=${options.inodes}`);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", settings.join(","), "tmpfs", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(stderr || (error as Error).message);
  }
  let mounted = true;
  return {
    dir,
    freeBytes() {
      const stats = fs.statfsSync(dir);
      return stats.bavail * stats.bsize;
    },
    fill(name = "filler") {
      const file = path.join(dir, name);
      const piece = Buffer.alloc(64 * 1024, 0xa5);
      const fd = fs.openSync(file, "a");
      try {
        for (;;) fs.writeSync(fd, piece);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      } finally {
        fs.closeSync(fd);
      }
      // A write that did not fit whole may leave a page or two; small writes take those.
      const small = Buffer.alloc(512, 0xa5);
      const tail = fs.openSync(file, "a");
      try {
        for (;;) fs.writeSync(tail, small);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      } finally {
        fs.closeSync(tail);
      }
      return file;
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      execFileSync("umount", ["-l", dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
