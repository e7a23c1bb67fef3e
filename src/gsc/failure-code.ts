// The result code of a job that failed: the job's own codes as they are, a link that went down
// as GSC_TRANSFER_FAILED, a refusal of the target as GSC_TARGET_ERROR naming the target's code,
// anything that is no gsnap error as INTERNAL.

import { isGsnapError } from "../errors/gsnap-error.js";
import { TargetRefusal } from "./remote-system.js";

/** The result code of a job that failed with `error` after verification. */
export function failureCode(error: unknown): { code: string; message: string } {
  if (!isGsnapError(error)) {
    return { code: "INTERNAL", message: `The job failed: ${String(error)}` };
  }
  switch (error.code) {
    case "GSC_CANCELLED":
    case "GSC_TRANSFER_FAILED":
    case "GSC_VERIFY_MISMATCH":
    case "GSC_TARGET_ERROR":
      return { code: error.code, message: error.message };
    case "LINK_DOWN":
    case "PATH_NOT_FOUND":
      return { code: "GSC_TRANSFER_FAILED", message: error.message };
    default:
      if (error instanceof TargetRefusal) {
        return { code: "GSC_TARGET_ERROR", message: `${error.code}: ${error.message}` };
      }
      return { code: error.code, message: error.message };
  }
}
