import { describe, expect, it } from "vitest";
import { GsnapError } from "../errors/gsnap-error.js";
import { failureCode } from "./failure-code.js";
import { TargetRefusal } from "./remote-system.js";

describe("failureCode", () => {
  it("names what failed a job after verification", () => {
    expect(failureCode(new TargetRefusal("VOLUME_NOT_FOUND", "System 2: gone"))).toEqual({
      code: "GSC_TARGET_ERROR",
      message: "VOLUME_NOT_FOUND: System 2: gone",
    });
    // A local error keeps its code, whatever its message says.
    expect(failureCode(new GsnapError("NO_SPACE", "System full"))).toEqual({
      code: "NO_SPACE",
      message: "System full",
    });
    expect(failureCode(new GsnapError("LINK_DOWN", "down")).code).toBe("GSC_TRANSFER_FAILED");
    expect(failureCode(new GsnapError("GSC_CANCELLED", "stop")).code).toBe("GSC_CANCELLED");
    expect(failureCode(new TypeError("bug")).code).toBe("INTERNAL");
  });
});
