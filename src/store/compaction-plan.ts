// Which segment the collector compacts next, and how much it copies in one step. Pure: the facts
// (each segment's recorded size and live bytes, whether appends go to it, whether I/O is under
// way, the free space) come from the catalog, the device and the filesystem.
//
// Two policies:
//   relaxed  the disk has room: a segment is compacted once less than half of it is live, so
//            copying costs at most the space it wins; an active segment only once it is big, or
//            once none of it is live (then it is removed, nothing copied).
//   pressed  the disk filled up (from the moment the store enters full mode until the collector
//            has nothing left to do under this policy): any segment, active ones too, with at least
//            PRESSED_MIN_DEAD_BYTES dead and under PRESSED_LIVE_RATIO live, so that the space a
//            deleted volume held comes back even where it was mixed with live data.
// The emptiest candidate goes first: the most space back for the fewest bytes copied. A step
// copies from the end of the segment and the segment is cut behind it, so a step needs free space
// for one window only, and a pressed step's window is what the free space allows.

/** A segment is compacted once less than half of it is live: copying costs at most the space won. */
export const COMPACT_BELOW_LIVE_RATIO = 0.5;

/** 8 MiB copied per compaction step: ~146 tracks, a few ms of I/O between host requests. */
export const COMPACT_BYTES_PER_STEP = 8 * 1024 * 1024;

/**
 * An active segment is sealed for compaction once it holds 64 MiB (a quarter of a segment): below
 * that, while the disk has room, the new file and the copy are not worth the space they win.
 */
export const SEAL_ACTIVE_MIN_BYTES = 64 * 1024 * 1024;

/** Pressed, a segment is worth compacting with 1 MiB dead, at most 9 bytes copied per byte won. */
export const PRESSED_MIN_DEAD_BYTES = 1024 * 1024;
export const PRESSED_LIVE_RATIO = 0.9;

/**
 * Room left free while compacting on a full disk, beyond the window copied: the catalog's commits
 * of the moves and of the segment's cut.
 */
export const COMPACT_HEADROOM_BYTES = 1024 * 1024;

/** What the collector knows of a segment when it chooses one. */
export interface SegmentCandidate {
  readonly segment: number;
  readonly sizeBytes: number;
  readonly liveBytes: number;
  readonly active: boolean;
  readonly busy: boolean;
}

export interface CompactionRoom {
  readonly pressed: boolean;
  readonly freeBytes: number;
}

/** The segment to compact next, and whether appends must stop going to it first. */
export function chooseSegment(
  candidates: Iterable<SegmentCandidate>,
  room: CompactionRoom,
): { segment: number; seal: boolean } | undefined {
  let best: SegmentCandidate | undefined;
  for (const candidate of candidates) {
    if (candidate.busy || !worthCompacting(candidate, room.pressed)) continue;
    if (best === undefined || candidate.liveBytes < best.liveBytes) best = candidate;
  }
  return best && { segment: best.segment, seal: best.active };
}

function worthCompacting(candidate: SegmentCandidate, pressed: boolean): boolean {
  const { sizeBytes, liveBytes, active } = candidate;
  if (sizeBytes === 0) return false;
  if (liveBytes === 0) return true;
  if (pressed) {
    return (
      sizeBytes - liveBytes >= PRESSED_MIN_DEAD_BYTES && liveBytes < sizeBytes * PRESSED_LIVE_RATIO
    );
  }
  if (active && sizeBytes < SEAL_ACTIVE_MIN_BYTES) return false;
  return liveBytes < sizeBytes * COMPACT_BELOW_LIVE_RATIO;
}

/**
 * Bytes to copy in the next step: COMPACT_BYTES_PER_STEP, or pressed what the free space allows
 * beyond the headroom (0: nothing fits; wait for the collector's other work to free some).
 */
export function windowBytes(room: CompactionRoom): number {
  if (!room.pressed) return COMPACT_BYTES_PER_STEP;
  return Math.max(0, Math.min(COMPACT_BYTES_PER_STEP, room.freeBytes - COMPACT_HEADROOM_BYTES));
}
