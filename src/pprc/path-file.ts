// Keeps the paths of a storage system in DATA_DIR/paths.json, so they outlive a restart. A write
// goes to a temp file that is synced and renamed over the old one, and the directory is synced:
// a crash leaves the old list or the new one, never a torn file.
//
// Format: { "format": 1, "paths": [{ "ssid", "remoteSerial", "remoteSsid", "links": [...] }] }

import fs from "node:fs/promises";
import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";
import type { PathSpec } from "./path-spec.js";

export const PATH_FILE_NAME = "paths.json";
const PATH_FILE_FORMAT = 1;

export async function readPathFile(dataDir: string): Promise<PathSpec[]> {
  const file = path.join(dataDir, PATH_FILE_NAME);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new GsnapError("IO_ERROR", `Cannot read "${file}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  let parsed: { format?: unknown; paths?: unknown };
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GsnapError("STORE_FORMAT", `Cannot read "${file}": it is not JSON`, { cause: error });
  }
  if (
    parsed?.format !== PATH_FILE_FORMAT ||
    !Array.isArray(parsed.paths) ||
    !parsed.paths.every(isPathSpec)
  ) {
    throw new GsnapError(
      "STORE_FORMAT",
      `Cannot read "${file}": it is not a gsnap path list of format ${PATH_FILE_FORMAT}`,
    );
  }
  return parsed.paths as PathSpec[];
}

export async function writePathFile(dataDir: string, paths: readonly PathSpec[]): Promise<void> {
  const file = path.join(dataDir, PATH_FILE_NAME);
  const temp = `${file}.tmp`;
  const text = `${JSON.stringify({ format: PATH_FILE_FORMAT, paths }, null, 2)}\n`;
  try {
    const handle = await fs.open(temp, "w");
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
    const dir = await fs.open(dataDir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (error) {
    throw new GsnapError("IO_ERROR", `Cannot write "${file}": ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function isPathSpec(value: unknown): value is PathSpec {
  const spec = value as Partial<Record<keyof PathSpec, unknown>> | null;
  return (
    typeof spec?.ssid === "string" &&
    typeof spec.remoteSerial === "string" &&
    typeof spec.remoteSsid === "string" &&
    Array.isArray(spec.links) &&
    spec.links.length > 0 &&
    spec.links.every((link) => typeof link === "string")
  );
}
