// The out-of-sync bitmap file when the disk fails: a mark it could not write is written again on
// the next sync, and a sync that cannot make the file durable fails with IO_ERROR.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { codeOf } from "../testing/error-code.js";
import { OosFile } from "./oos-file.js";

const TRACKS = 64;
const cleanups: (() => void)[] = [];

afterEach(() => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function openFile(bits: Uint8Array): OosFile {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-oos-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = OosFile.open(OosFile.fileFor(dir, "PRI001"), TRACKS, () => bits);
  cleanups.push(() => file.remove());
  return file;
}

function diskFails(): Error {
  return Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
}

describe("OosFile", () => {
  it("keeps a mark it could not write and writes it on the next sync", () => {
    const bits = new Uint8Array(TRACKS / 8);
    const file = openFile(bits);
    bits[1] = 0x80;
    bits[5] = 0x01;
    file.change(1);
    file.change(5);
    vi.spyOn(fs, "writeSync").mockImplementationOnce(() => {
      throw diskFails();
    });
    expect(codeOf(() => file.writeNow())).toBe("IO_ERROR");
    vi.restoreAllMocks();
    file.sync();
    expect(OosFile.read(file.file, TRACKS)).toEqual(bits);
  });

  it("fails a sync with IO_ERROR when the file cannot be made durable", () => {
    const bits = new Uint8Array(TRACKS / 8);
    const file = openFile(bits);
    bits[0] = 1;
    file.change(0);
    vi.spyOn(fs, "fsyncSync").mockImplementation(() => {
      throw diskFails();
    });
    expect(codeOf(() => file.sync())).toBe("IO_ERROR");
    vi.restoreAllMocks();
    // Still not durable: the next sync tries again, and succeeds.
    const fsync = vi.spyOn(fs, "fsyncSync");
    file.sync();
    expect(fsync).toHaveBeenCalledTimes(1);
  });
});
