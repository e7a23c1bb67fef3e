// The code of the GsnapError an action throws, or undefined when it throws none: how tests say
// which error they expect. Other errors are programmer errors and fail the test.

import type { ErrorCode } from "../errors/codes.js";
import { isGsnapError } from "../errors/gsnap-error.js";

export function codeOf(action: () => unknown): ErrorCode | undefined {
  try {
    action();
  } catch (error) {
    if (isGsnapError(error)) return error.code;
    throw error;
  }
  return undefined;
}

export async function codeOfAsync(action: () => unknown): Promise<ErrorCode | undefined> {
  try {
    await action();
  } catch (error) {
    if (isGsnapError(error)) return error.code;
    throw error;
  }
  return undefined;
}
