// The one translation of a failed disk operation into an operating error: a full disk (or a full
// quota, or a catalog that cannot grow) is NO_SPACE, anything else IO_ERROR. Node reports errno
// names ("ENOSPC"), the LMDB binding errno numbers (28) or LMDB's own negative codes.

import { GsnapError } from "./gsnap-error.js";

/** ENOSPC and EDQUOT as Linux numbers them, and LMDB's MDB_MAP_FULL. */
const NO_SPACE_ERRNOS: readonly unknown[] = ["ENOSPC", "EDQUOT", 28, 122, -30792];

/** True when `error` says the disk (or the quota, or the catalog's map) is full. */
export function isDiskFull(error: unknown): boolean {
  if (error instanceof GsnapError) return error.code === "NO_SPACE";
  return NO_SPACE_ERRNOS.includes((error as { code?: unknown } | undefined)?.code);
}

/** `Cannot ${action}: the disk is full` (NO_SPACE) or `Cannot ${action}: why` (IO_ERROR). */
export function diskError(action: string, error: unknown): GsnapError {
  if (error instanceof GsnapError) return error;
  if (isDiskFull(error)) {
    return new GsnapError("NO_SPACE", `Cannot ${action}: the disk is full`, { cause: error });
  }
  const why = error instanceof Error ? error.message : String(error);
  return new GsnapError("IO_ERROR", `Cannot ${action}: ${why}`, { cause: error });
}
