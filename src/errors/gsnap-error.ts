// The typed operating error: bad input, a missing volume, a full disk. Programmer errors are
// assertion failures instead and are never caught.

import { ERROR_CODES, type ErrorCode } from "./codes.js";

export class GsnapError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GsnapError";
    this.code = code;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }
}

/** True when `error` is a GsnapError, optionally with the given code. */
export function isGsnapError(error: unknown, code?: ErrorCode): error is GsnapError {
  return error instanceof GsnapError && (code === undefined || error.code === code);
}
