// Keeps the paths of a storage system in DATA_DIR/paths.json, so they outlive a restart; written
// whole or not at all (json-file.ts).
//
// Format: { "format": 1, "paths": [{ "ssid", "remoteSerial", "remoteSsid", "links": [...] }] }

import path from "node:path";
import { GsnapError } from "../errors/gsnap-error.js";
import { readJsonFile, writeJsonFile } from "./json-file.js";
import type { PathSpec } from "./path-spec.js";

export const PATH_FILE_NAME = "paths.json";
const PATH_FILE_FORMAT = 1;

export async function readPathFile(dataDir: string): Promise<PathSpec[]> {
  const file = path.join(dataDir, PATH_FILE_NAME);
  const parsed = (await readJsonFile(file)) as { format?: unknown; paths?: unknown } | undefined;
  if (parsed === undefined) return [];
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

export function writePathFile(dataDir: string, paths: readonly PathSpec[]): Promise<void> {
  return writeJsonFile(path.join(dataDir, PATH_FILE_NAME), { format: PATH_FILE_FORMAT, paths });
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
