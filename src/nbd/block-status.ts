// The base:allocation answer to NBD_CMD_BLOCK_STATUS: the store's runs of mapped and unmapped
// tracks, turned into byte extents clipped to the request. A mapped track is data (status 0); an
// unmapped one reads as zeros and takes no space (NBD_STATE_HOLE | NBD_STATE_ZERO). Pure: no I/O.

import assert from "node:assert/strict";
import { AllocationState, MAX_BLOCK_STATUS_EXTENTS } from "./protocol.js";
import type { Extent } from "./transmission-codec.js";

export interface AllocationRun {
  readonly firstTrack: number;
  readonly count: number;
  readonly mapped: boolean;
}

export interface ByteWindow {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

const UNMAPPED_FLAGS = AllocationState.HOLE | AllocationState.ZERO;

/** The tracks a byte window touches, as the store's allocation() wants them. */
export function tracksOf(
  window: ByteWindow,
  trackSizeBytes: number,
): { firstTrack: number; count: number } {
  assert.ok(window.lengthBytes > 0, "a block status window covers at least one byte");
  const firstTrack = Math.floor(window.offsetBytes / trackSizeBytes);
  const lastTrack = Math.floor((window.offsetBytes + window.lengthBytes - 1) / trackSizeBytes);
  return { firstTrack, count: lastTrack - firstTrack + 1 };
}

/**
 * Extents covering the window from its start, one per run, merged where the status repeats. With
 * `reqOne` only the first; otherwise at most MAX_BLOCK_STATUS_EXTENTS (the client asks again
 * from where the reply stops).
 */
export function allocationExtents(request: {
  runs: readonly AllocationRun[];
  trackSizeBytes: number;
  window: ByteWindow;
  reqOne: boolean;
}): Extent[] {
  const { runs, trackSizeBytes, window } = request;
  const limit = request.reqOne ? 1 : MAX_BLOCK_STATUS_EXTENTS;
  const windowEnd = window.offsetBytes + window.lengthBytes;
  const extents: { lengthBytes: number; flags: number }[] = [];
  let covered = window.offsetBytes;
  for (const run of runs) {
    const runEnd = (run.firstTrack + run.count) * trackSizeBytes;
    const end = Math.min(runEnd, windowEnd);
    if (end <= covered) continue;
    const flags = run.mapped ? 0 : UNMAPPED_FLAGS;
    const last = extents.at(-1);
    if (last !== undefined && last.flags === flags) {
      last.lengthBytes += end - covered;
    } else {
      if (extents.length === limit) break;
      extents.push({ lengthBytes: end - covered, flags });
    }
    covered = end;
    if (covered >= windowEnd) break;
  }
  assert.ok(extents.length > 0, "the runs cover the start of the window");
  return extents;
}
