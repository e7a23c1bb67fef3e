// The NBD edge's one translation of errors: a store error becomes the errno a client sees. Each
// error is translated here and nowhere else (STYLE.md, "Each edge translates an error exactly
// once"). The values are the protocol's, which match Linux's.

import type { ErrorCode } from "../errors/codes.js";
import { isGsnapError } from "../errors/gsnap-error.js";

/** The error values the NBD protocol defines. */
export const Errno = {
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** Store error codes that mean something to an NBD client; every other one is EIO. */
const ERRNO_OF_CODE: Partial<Record<ErrorCode, number>> = {
  IO_OUT_OF_RANGE: Errno.EINVAL,
  NO_SPACE: Errno.ENOSPC,
  VOLUME_READ_ONLY: Errno.EPERM,
};

/** The errno to send for an error thrown by the store (or anything else: EIO). */
export function errnoOf(error: unknown): number {
  if (isGsnapError(error)) return ERRNO_OF_CODE[error.code] ?? Errno.EIO;
  return Errno.EIO;
}
