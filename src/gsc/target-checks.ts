// The checksums a GSC compares: P''s, read here, against the target's of the whole extent
// before the copy (508, so only differing tracks are sent) and of the tracks it sent after it,
// which must equal them track by track (514 and 520). No data is read back: both sides answer
// from their catalogs. Each track's checksum list position is its position in the copy.

import assert from "node:assert";
import { GsnapError } from "../errors/gsnap-error.js";
import { type Extent, parseExtentList } from "../geometry/address.js";
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
import { type GscPlan, runsOf } from "./gsc-plan.js";
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

/**
 * Step 508's compare: P''s checksum list, and the positions of the copy whose checksums differ
 * between P' and the pair's secondary to be (S, or S' at P's addresses). With `snapTarget`, S's
 * extent is snapped into S' first, so S' starts from what S holds and the compare reads S'
 * itself: a host write to S after the snap cannot slip past. Each side reads its checksums at
 * the same time.
 */
export async function compareWithTarget(
  deps: { remote: RemoteSystem; jobId: string; store: Pick<Store, "trackChecksums"> },
  compare: { plan: GscPlan; intermediate: string; pairTarget: string; snapTarget: boolean },
): Promise<{ sums: Buffer; differing: PositionRun[] }> {
  const { remote, jobId } = deps;
  const { plan, pairTarget } = compare;
  const runs = runsOf(parseExtentList(plan.source.extents));
  if (compare.snapTarget) {
    await remote.snap({
      job: jobId,
      source: `${plan.target.volser}:${plan.target.extents}`,
      target: `${pairTarget}:${plan.source.extents}`,
    });
  }
  // The requests go out now; the target answers them while this side reads P'.
  const reading = remote.checksums({ job: jobId, volser: pairTarget, runs });
  let sums: Buffer;
  try {
    sums = await sourceChecksums(deps.store, {
      volser: compare.intermediate,
      runs,
      tracks: plan.tracks,
    });
  } catch (error) {
    reading.catch(() => {});
    throw error;
  }
  return { sums, differing: differingPositions(sums, await reading) };
}
