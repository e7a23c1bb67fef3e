import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "./codes.js";
import { GsnapError } from "./gsnap-error.js";

describe("error list", () => {
  it("gives every code its own CLI exit code", () => {
    const exitCodes = Object.values(ERROR_CODES).map((info) => info.exitCode);
    expect(new Set(exitCodes).size).toBe(exitCodes.length);
  });

  it("keeps exit codes clear of 0, 1 and 2, which mean success, crash and usage", () => {
    for (const info of Object.values(ERROR_CODES)) expect(info.exitCode).toBeGreaterThan(2);
  });

  it("carries the status and exit code of its code", () => {
    const error = new GsnapError("VOLUME_NOT_FOUND", 'volume "X" does not exist');
    expect(error.httpStatus).toBe(404);
    expect(error.exitCode).toBe(31);
  });
});
