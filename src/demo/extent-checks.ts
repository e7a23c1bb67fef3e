// What the demo checks with its own eyes, apart from the job's verification: checksums of the
// source extent, the target extent and a cylinder outside it, read over NBD before and after.

import { DEFAULT_TRACK_SIZE_BYTES, HEADS } from "../geometry/geometry.js";
import type { ServeProcess } from "../testing/serve-process.js";
import { say } from "./narration.js";
import { type ByteRange, checksum } from "./nbd-io.js";

export const CYLINDER_BYTES = HEADS * DEFAULT_TRACK_SIZE_BYTES;
/** The GSC copies cylinders 0-99 of VOL001 into cylinders 100-199 of VOL900. */
export const EXTENT_CYLINDERS = 100;
export const EXTENT_BYTES = EXTENT_CYLINDERS * CYLINDER_BYTES;
export const SOURCE_EXTENT: ByteRange = {
  volser: "VOL001",
  offsetBytes: 0,
  lengthBytes: EXTENT_BYTES,
};
export const TARGET_EXTENT: ByteRange = {
  volser: "VOL900",
  offsetBytes: EXTENT_CYLINDERS * CYLINDER_BYTES,
  lengthBytes: EXTENT_BYTES,
};
export const TARGET_CYLINDER_0: ByteRange = {
  volser: "VOL900",
  offsetBytes: 0,
  lengthBytes: CYLINDER_BYTES,
};

/** Checksums of the three ranges the demo watches. */
export interface ExtentSums {
  readonly source: string;
  readonly target: string;
  readonly outside: string;
}

const LABELS = {
  source: "A VOL001 cylinders 0-99",
  target: "B VOL900 cylinders 100-199",
  outside: "B VOL900 cylinder 0",
} as const;
const LABEL_WIDTH = 28;

function row(label: string, sum: string, note: string): void {
  say(`   ${label.padEnd(LABEL_WIDTH)} ${sum}  (${note})`);
}

export async function extentSums(systems: {
  a: ServeProcess;
  b: ServeProcess;
}): Promise<ExtentSums> {
  return {
    source: await checksum(systems.a, SOURCE_EXTENT),
    target: await checksum(systems.b, TARGET_EXTENT),
    outside: await checksum(systems.b, TARGET_CYLINDER_0),
  };
}

export function printSums(sums: ExtentSums): void {
  row(LABELS.source, sums.source, "the source extent P");
  row(LABELS.target, sums.target, "the target extent S");
  row(LABELS.outside, sums.outside, "outside the extent");
}

/**
 * Prints how the ranges changed and answers whether as they should: the target extent holds the
 * source as it was at the snap, the host's later write stayed on the source, and nothing outside
 * the extent changed.
 */
export function compareSums(before: ExtentSums, now: ExtentSums): boolean {
  const hostWriteKept = now.source !== before.source;
  const asSnapped = now.target === before.source;
  const outsideKept = now.outside === before.outside;
  row(LABELS.source, now.source, hostWriteKept ? "changed by the host write" : "UNCHANGED?!");
  row(
    LABELS.target,
    now.target,
    asSnapped
      ? "= the source before the host write: the copy is the snap"
      : "DOES NOT match the source as snapped",
  );
  row(
    LABELS.outside,
    now.outside,
    outsideKept ? "unchanged: only the extent changed" : "CHANGED outside the extent",
  );
  return hostWriteKept && asSnapped && outsideKept;
}
