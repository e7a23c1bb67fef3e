import { describe, expect, it } from "vitest";
import { GsnapError } from "../errors/gsnap-error.js";
import { Errno, errnoOf } from "./errno.js";
import type { Session } from "./handshake.js";
import { Command, CommandFlag, MAX_PAYLOAD_BYTES } from "./protocol.js";
import { checkRequest, commandName } from "./request-check.js";
import type { Request } from "./transmission-codec.js";

const SIZE = 300 * 57_344;

function session(overrides: Partial<Session> & { readOnly?: boolean } = {}): Session {
  return {
    export: {
      name: "VOL001",
      sizeBytes: SIZE,
      readOnly: overrides.readOnly ?? false,
      trackSizeBytes: 57_344,
      description: "",
    },
    flags: 0,
    structuredReplies: true,
    allocationContext: true,
    ...overrides,
  };
}

function request(overrides: Partial<Request>): Request {
  return {
    flags: 0,
    type: Command.READ,
    handle: 1n,
    offsetBytes: 0,
    lengthBytes: 512,
    ...overrides,
  };
}

describe("request check", () => {
  it("lets a request inside the export through", () => {
    expect(checkRequest(request({ offsetBytes: SIZE - 512 }), session())).toBeUndefined();
    expect(
      checkRequest(request({ type: Command.FLUSH, lengthBytes: 0 }), session()),
    ).toBeUndefined();
  });

  it("refuses a range past the end, or of no bytes, with EINVAL", () => {
    for (const type of [Command.READ, Command.WRITE, Command.TRIM, Command.BLOCK_STATUS]) {
      expect(checkRequest(request({ type, offsetBytes: SIZE - 511 }), session())?.errno).toBe(
        Errno.EINVAL,
      );
      expect(checkRequest(request({ type, offsetBytes: 2 ** 63 }), session())?.errno).toBe(
        Errno.EINVAL,
      );
      expect(checkRequest(request({ type, lengthBytes: 0 }), session())?.errno).toBe(Errno.EINVAL);
    }
    const refusal = checkRequest(request({ offsetBytes: SIZE }), session());
    expect(refusal?.message).toBe(
      `Cannot read 512 bytes at offset ${SIZE} of export "VOL001": it holds ${SIZE} bytes`,
    );
  });

  it("refuses a read over the payload limit with EINVAL", () => {
    const big = request({ lengthBytes: MAX_PAYLOAD_BYTES + 1 });
    expect(checkRequest(big, session())?.errno).toBe(Errno.EINVAL);
  });

  it("refuses an unknown command with EINVAL", () => {
    for (const type of [Command.CACHE, 8, 0xffff]) {
      expect(checkRequest(request({ type }), session())?.errno).toBe(Errno.EINVAL);
    }
    expect(commandName(0xffff)).toBe("unknown");
  });

  it("refuses flags the command does not take, and DF without structured replies", () => {
    const check = (flags: number, type: number, structuredReplies = true) =>
      checkRequest(request({ flags, type }), session({ structuredReplies }))?.errno;
    expect(check(CommandFlag.FUA, Command.READ)).toBeUndefined();
    expect(check(CommandFlag.DF, Command.READ)).toBeUndefined();
    expect(check(CommandFlag.DF, Command.READ, false)).toBe(Errno.EINVAL);
    expect(check(CommandFlag.NO_HOLE, Command.WRITE_ZEROES)).toBeUndefined();
    expect(check(CommandFlag.NO_HOLE, Command.WRITE)).toBe(Errno.EINVAL);
    expect(check(CommandFlag.FAST_ZERO, Command.WRITE_ZEROES)).toBe(Errno.EINVAL);
    expect(check(CommandFlag.REQ_ONE, Command.BLOCK_STATUS)).toBeUndefined();
    expect(check(0x100, Command.READ)).toBe(Errno.EINVAL);
  });

  it("refuses writes, trims and zeroes on a read-only export with EPERM, reads not", () => {
    const readOnly = session({ readOnly: true });
    for (const type of [Command.WRITE, Command.TRIM, Command.WRITE_ZEROES]) {
      expect(checkRequest(request({ type }), readOnly)?.errno).toBe(Errno.EPERM);
    }
    expect(checkRequest(request({}), readOnly)).toBeUndefined();
  });

  it("refuses a flush with an offset or length, and block status without base:allocation", () => {
    const flush = request({ type: Command.FLUSH, lengthBytes: 1 });
    expect(checkRequest(flush, session())?.errno).toBe(Errno.EINVAL);
    const status = request({ type: Command.BLOCK_STATUS });
    expect(checkRequest(status, session({ allocationContext: false }))?.errno).toBe(Errno.EINVAL);
  });
});

describe("errno mapping", () => {
  it("maps each store error to its errno, and everything else to EIO", () => {
    const errnoFor = (code: ConstructorParameters<typeof GsnapError>[0]) =>
      errnoOf(new GsnapError(code, "x"));
    expect(errnoFor("IO_OUT_OF_RANGE")).toBe(22);
    expect(errnoFor("NO_SPACE")).toBe(28);
    expect(errnoFor("VOLUME_READ_ONLY")).toBe(1);
    expect(errnoFor("CHUNK_CORRUPT")).toBe(5);
    expect(errnoFor("VOLUME_NOT_FOUND")).toBe(5);
    expect(errnoFor("STORE_CLOSED")).toBe(5);
    expect(errnoOf(new Error("boom"))).toBe(5);
    expect(errnoOf("not even an error")).toBe(5);
  });
});
