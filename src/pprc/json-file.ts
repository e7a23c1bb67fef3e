// Small JSON files in the data dir that must survive a crash whole (paths.json, pairs.json). A
// write goes to a temp file that is synced and renamed over the old one, and the directory is
// synced: a crash leaves the old content or the new, never a torn file.

import fs from "node:fs/promises";
import path from "node:path";
import { diskError } from "../errors/disk-error.js";
import { GsnapError } from "../errors/gsnap-error.js";

/** The parsed JSON of a file, or undefined when it does not exist. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new GsnapError("IO_ERROR", `Cannot read "${file}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new GsnapError("STORE_FORMAT", `Cannot read "${file}": it is not JSON`, { cause: error });
  }
}

export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  const temp = `${file}.tmp`;
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    const handle = await fs.open(temp, "w");
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
    const dir = await fs.open(path.dirname(file), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (error) {
    // A temp file a full disk cut short would only hold space.
    await fs.rm(temp, { force: true }).catch(() => {});
    throw diskError(`write "${file}"`, error);
  }
}
