// Checks a snap request against the two volumes and turns it into runs of tracks to copy. Pure
// logic: every refusal happens here, before the store changes anything.
//
// The source extents, taken in order, are copied onto the target extents taken in order (or onto
// the same addresses when the request names no target extents); both must hold as many tracks.

import { GsnapError } from "../errors/gsnap-error.js";
import {
  checkExtentInVolume,
  type Extent,
  extentsOverlap,
  formatExtentList,
  totalTrackCount,
} from "../geometry/address.js";
import type { Geometry } from "../geometry/geometry.js";
import type { SnapRange } from "./mapping-tree.js";

export interface SnapSide {
  readonly volser: string;
  readonly geometry: Geometry;
  readonly extents: readonly Extent[];
}

export function planSnap(request: {
  source: SnapSide;
  target: { volser: string; geometry: Geometry; extents?: readonly Extent[] };
}): SnapRange[] {
  const { source } = request;
  const target = { ...request.target, extents: request.target.extents ?? source.extents };
  const what = `snap ${source.volser}:${formatExtentList(source.extents)} to ${target.volser}`;
  for (const extent of source.extents) checkExtentInVolume(extent, source.geometry, source.volser);
  for (const extent of target.extents) checkExtentInVolume(extent, target.geometry, target.volser);
  if (source.geometry.trackSizeBytes !== target.geometry.trackSizeBytes) {
    throw new GsnapError(
      "TRACK_SIZE_MISMATCH",
      `Cannot ${what}: its tracks hold ${source.geometry.trackSizeBytes} bytes, ` +
        `those of "${target.volser}" ${target.geometry.trackSizeBytes}`,
    );
  }
  const sourceTracks = totalTrackCount(source.extents);
  const targetTracks = totalTrackCount(target.extents);
  if (sourceTracks !== targetTracks) {
    throw new GsnapError(
      "EXTENT_SIZE_MISMATCH",
      `Cannot ${what}:${formatExtentList(target.extents)}: the source extents hold ` +
        `${sourceTracks} tracks but the target extents ${targetTracks}`,
    );
  }
  target.extents.forEach((a, i) => {
    target.extents.slice(i + 1).forEach((b) => {
      if (extentsOverlap(a, b)) {
        throw new GsnapError(
          "EXTENTS_OVERLAP",
          `Cannot ${what}: target extents ${formatExtentList([a, b])} overlap`,
        );
      }
    });
  });
  const ranges = zipExtents(source.extents, target.extents);
  if (source.volser === target.volser) refuseSelfOverlap(ranges, what);
  return ranges;
}

function zipExtents(sources: readonly Extent[], targets: readonly Extent[]): SnapRange[] {
  const ranges: SnapRange[] = [];
  let s = 0;
  let t = 0;
  let sourceTrack = sources[0]?.firstTrack ?? 0;
  let targetTrack = targets[0]?.firstTrack ?? 0;
  while (s < sources.length && t < targets.length) {
    const count = Math.min(
      sources[s].lastTrack - sourceTrack + 1,
      targets[t].lastTrack - targetTrack + 1,
    );
    ranges.push({ sourceFirstTrack: sourceTrack, targetFirstTrack: targetTrack, count });
    sourceTrack += count;
    targetTrack += count;
    if (sourceTrack > sources[s].lastTrack) sourceTrack = sources[++s]?.firstTrack ?? 0;
    if (targetTrack > targets[t].lastTrack) targetTrack = targets[++t]?.firstTrack ?? 0;
  }
  return ranges;
}

/** Within one volume, no target range may overlap any source range. */
function refuseSelfOverlap(ranges: readonly SnapRange[], what: string): void {
  for (const a of ranges) {
    for (const b of ranges) {
      const source = {
        firstTrack: a.sourceFirstTrack,
        lastTrack: a.sourceFirstTrack + a.count - 1,
      };
      const target = {
        firstTrack: b.targetFirstTrack,
        lastTrack: b.targetFirstTrack + b.count - 1,
      };
      if (extentsOverlap(source, target)) {
        throw new GsnapError(
          "EXTENTS_OVERLAP",
          `Cannot ${what}: source ${formatExtentList([source])} overlaps target ` +
            `${formatExtentList([target])} on the same volume`,
        );
      }
    }
  }
}
