// How many connections the process may hold at once so that a flood never takes the file
// descriptors the store needs for its own files (a new segment, a journal file, LMDB): a
// connection holds one descriptor, and `open` failing with EMFILE in the store would turn into an
// I/O error for a host's write. Pure: the daemon reads the numbers (/proc on Linux) and passes them.

/** Descriptors kept for the store and the process whatever the listeners hold; see --fd-reserve. */
export const DEFAULT_FD_RESERVE = 256;

/**
 * The soft RLIMIT_NOFILE from the text of /proc/self/limits ("Max open files  SOFT  HARD  files");
 * undefined when the line is missing or says "unlimited". Node raises the soft limit to the hard
 * one at start, so this is what the process really has.
 */
export function openFilesSoftLimit(limitsText: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  if (match === null || match[1] === "unlimited") return undefined;
  return Number(match[1]);
}

/**
 * Connections every listener together may hold: the descriptors not open yet, less the reserve.
 * Never negative; a process already past its reserve takes no connection at all, which the daemon
 * refuses to start with (a listener that accepts nobody would look up but lock everyone out).
 */
export function connectionBudget(fds: {
  readonly softLimit: number;
  readonly openNow: number;
  readonly reserve: number;
}): number {
  return Math.max(0, fds.softLimit - fds.openNow - fds.reserve);
}
