// The checksums a GSC compares: P''s, read here, and the target's of the tracks it sent, which
// must equal them track by track (steps 514 and 520). No data is read back: both sides answer
// from their catalogs. Each track's checksum list position is its position in the copy.

import assert from "node:assert";
import { GsnapError } from "../errors/gsnap-error.js";
import type { Extent } from "../geometry/address.js";
import type { TrackRange } from "../pprc/track-feed.js";
import type { Store } from "../store/store.js";
import {
  CHECKSUM_BYTES,
  checksumList,
  differingPositions,
  gatherChecksums,
  type PositionRun,
  positionAt,
  tracksAt,
} from "./copy-runs.js";
import type { RemoteSystem } from "./remote-system.js";

/** The checksum list of `volser` (P') at `runs` (P's extents), in copy order. */
export async function sourceChecksums(
  store: Pick<Store, "trackChecksums">,
  source: { volser: string; runs: readonly TrackRange[]; tracks: number },
): Promise<Buffer> {
  const lists = await Promise.all(
    source.runs.map((run) => store.trackChecksums(source.volser, run)),
  );
  const sums = checksumList(lists.flat());
  assert.equal(sums.length, source.tracks * CHECKSUM_BYTES, "a checksum for each track");
  return sums;
}

/**
 * The target's checksums of the tracks sent, where `extents` of `volser` hold the copy, must
 * equal the source's, track by track: one CHECKSUMS request per batch of them.
 */
export async function verifyTarget(
  deps: { remote: RemoteSystem; jobId: string; tracks: number },
  check: {
    volser: string;
    extents: readonly Extent[];
    sent: readonly PositionRun[];
    sums: Buffer;
  },
): Promise<void> {
  if (check.sent.length === 0) return;
  const expected = gatherChecksums(check.sums, check.sent);
  const held = await deps.remote.checksums({
    job: deps.jobId,
    volser: check.volser,
    runs: tracksAt(check.extents, check.sent),
  });
  const [wrong] = differingPositions(expected, held);
  if (wrong !== undefined) {
    const position = positionAt(check.sent, wrong.firstPosition);
    throw new GsnapError(
      "GSC_VERIFY_MISMATCH",
      `The target's ${check.volser} differs from the source at the copy's track ${position} (of ${deps.tracks}): the job failed and changed nothing it could undo; run it again`,
    );
  }
}
