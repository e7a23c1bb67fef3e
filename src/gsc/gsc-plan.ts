// Step 502 of a GSC: verify the request against both systems and work out what the job will use.
// Everything that can be refused is refused here, before anything changes, each with its own code
// and a message that says what to do (DESIGN.md §3). What it reads: the local store and pairs,
// the path, and the target's answers to VOLUME_INFO.

import { GsnapError } from "../errors/gsnap-error.js";
import {
  checkExtentInVolume,
  type Extent,
  extentTrackCount,
  formatExtentList,
  totalTrackCount,
} from "../geometry/address.js";
import { type Geometry, HEADS } from "../geometry/geometry.js";
import type { TrackRange } from "../pprc/track-feed.js";
import type { VolumeUsage } from "../store/volume-record.js";
import type { RemoteVolumeInfo } from "./control-body.js";
import type { GscSpec } from "./gsc-spec.js";

/** What a verified job uses; kept in the job record, so that a restart knows what to clean up. */
export interface GscPlan {
  readonly source: { readonly volser: string; readonly ssid: string; readonly extents: string };
  /** P': named, or allocated by the job (its name chosen when it is created, step 506). */
  readonly intermediate: { readonly volser?: string; readonly auto: boolean };
  readonly target: {
    readonly serial: string;
    readonly ssid: string;
    readonly volser: string;
    /** Where the tracks land on S: S's extent with S', else P's addresses. */
    readonly extents: string;
  };
  /** S', when given: named, or allocated on the target (its name known once reserved). */
  readonly targetIntermediate?: { readonly volser?: string; readonly auto: boolean };
  /** The geometry of P' and of the pair's secondary (S or S'), which must be equal. */
  readonly pairGeometry: { readonly cylinders: number; readonly trackSizeBytes: number };
  readonly tracks: number;
  readonly trackSizeBytes: number;
}

/** What verification reads. */
export interface PlanFacts {
  readonly spec: GscSpec;
  /** A local volume, or VOLUME_NOT_FOUND. */
  readonly local: (volser: string) => VolumeUsage;
  /** Whether a local volume is in a pair or held by another job. */
  readonly localBusy: (volser: string) => string | undefined;
  /** A target volume, or the target's error. */
  readonly remote: (volser: string) => Promise<RemoteVolumeInfo>;
  /** Another job on this system that holds S (or an overlapping S extent), if any. */
  readonly targetBusy: (target: {
    serial: string;
    volser: string;
    extents: Extent[];
  }) => string | undefined;
}

export async function planGsc(facts: PlanFacts): Promise<GscPlan> {
  const { spec } = facts;
  const source = facts.local(spec.source.volser);
  for (const extent of spec.source.extents)
    checkExtentInVolume(extent, geometryOf(source), source.volser);
  const lastSourceTrack = Math.max(...spec.source.extents.map((extent) => extent.lastTrack));
  const targetName = `${spec.target.serial}.${spec.target.ssid}.${spec.target.volser}`;

  // S: there, in the subsystem named, free, with tracks of P's size.
  const target = await facts.remote(spec.target.volser);
  if (target.ssid !== spec.target.ssid) {
    throw new GsnapError(
      "VOLUME_NOT_FOUND",
      `Cannot copy to ${targetName}: volume ${target.volser} is in subsystem ${target.ssid}, not ${spec.target.ssid}`,
    );
  }
  checkFree(target, targetName);
  checkTrackSize(source, target.trackSizeBytes, targetName);
  const targetExtents = spec.target.extents ?? spec.source.extents;
  for (const extent of targetExtents) checkExtentInVolume(extent, geometryOf(target), targetName);
  const holder = facts.targetBusy({
    serial: spec.target.serial,
    volser: target.volser,
    extents: targetExtents,
  });
  if (holder !== undefined) {
    throw new GsnapError(
      "GSC_VOLUME_BUSY",
      `Cannot copy to ${targetName}:${formatExtentList(targetExtents)}: job ${holder} copies to it now; wait for it (gsnap job wait ${holder})`,
    );
  }

  // S', when named: there, free, and large enough to hold P's tracks at their addresses.
  let targetIntermediate: RemoteVolumeInfo | undefined;
  if (spec.targetIntermediate !== undefined && spec.targetIntermediate !== "auto") {
    const name = `${spec.target.serial}.${spec.target.ssid}.${spec.targetIntermediate.volser}`;
    targetIntermediate = await facts.remote(spec.targetIntermediate.volser);
    checkFree(targetIntermediate, name);
    if (targetIntermediate.reservedBy.length > 0) {
      throw new GsnapError(
        "GSC_VOLUME_BUSY",
        `Cannot use ${name} as S': job ${targetIntermediate.reservedBy[0]} holds it`,
      );
    }
    checkTrackSize(source, targetIntermediate.trackSizeBytes, name);
    checkHolds(targetIntermediate.trackCount, lastSourceTrack, name, "S'");
  }

  // P', when named: here, free, large enough.
  let intermediate: VolumeUsage | undefined;
  if (spec.intermediate !== "auto") {
    intermediate = facts.local(spec.intermediate.volser);
    const busy = facts.localBusy(intermediate.volser);
    if (busy !== undefined) {
      throw new GsnapError("GSC_VOLUME_BUSY", `Cannot use ${intermediate.volser} as P': ${busy}`);
    }
    checkTrackSize(source, intermediate.trackSizeBytes, intermediate.volser);
    checkHolds(intermediate.trackCount, lastSourceTrack, intermediate.volser, "P'");
  }

  // P' and the pair's secondary (S, or S') must have the same geometry: a pair copies track n
  // to track n. An allocated intermediate takes the other's geometry, or P's.
  const secondary = spec.targetIntermediate === undefined ? target : targetIntermediate;
  const known = intermediate ?? secondary;
  const pairGeometry =
    known === undefined
      ? { cylinders: source.cylinders, trackSizeBytes: source.trackSizeBytes }
      : { cylinders: known.cylinders, trackSizeBytes: known.trackSizeBytes };
  if (
    intermediate !== undefined &&
    secondary !== undefined &&
    intermediate.trackCount !== secondary.trackCount
  ) {
    throw new GsnapError(
      "PAIR_GEOMETRY_MISMATCH",
      `Cannot pair P' ${intermediate.volser} (${intermediate.cylinders} cylinders) with ${secondary.volser} (${secondary.cylinders} cylinders): name volumes of equal size, or * to allocate one`,
    );
  }
  if (spec.intermediate === "auto")
    checkHolds(pairGeometry.cylinders * HEADS, lastSourceTrack, "an allocated P'", "P'");

  return {
    source: {
      volser: source.volser,
      ssid: source.ssid,
      extents: formatExtentList(spec.source.extents),
    },
    intermediate:
      spec.intermediate === "auto"
        ? { auto: true }
        : { volser: spec.intermediate.volser, auto: false },
    target: {
      serial: spec.target.serial,
      ssid: spec.target.ssid,
      volser: target.volser,
      extents: formatExtentList(targetExtents),
    },
    targetIntermediate:
      spec.targetIntermediate === undefined
        ? undefined
        : spec.targetIntermediate === "auto"
          ? { auto: true }
          : { volser: spec.targetIntermediate.volser, auto: false },
    pairGeometry,
    tracks: totalTrackCount(spec.source.extents),
    trackSizeBytes: source.trackSizeBytes,
  };
}

/** Extents as runs of tracks, in order. */
export function runsOf(extents: readonly Extent[]): TrackRange[] {
  return extents.map((extent) => ({
    firstTrack: extent.firstTrack,
    count: extentTrackCount(extent),
  }));
}

function geometryOf(volume: {
  model: string;
  cylinders: number;
  trackSizeBytes: number;
}): Geometry {
  return {
    model: volume.model,
    cylinders: volume.cylinders,
    heads: HEADS,
    trackSizeBytes: volume.trackSizeBytes,
  };
}

function checkFree(volume: RemoteVolumeInfo, name: string): void {
  if (volume.pairRole !== null) {
    throw new GsnapError(
      "GSC_VOLUME_BUSY",
      `Cannot copy to ${name}: it is the ${volume.pairRole} of a pair (terminate the pair first)`,
    );
  }
}

function checkTrackSize(source: VolumeUsage, trackSizeBytes: number, name: string): void {
  if (trackSizeBytes !== source.trackSizeBytes) {
    throw new GsnapError(
      "TRACK_SIZE_MISMATCH",
      `Cannot copy ${source.volser} (tracks of ${source.trackSizeBytes} bytes) to ${name} (tracks of ${trackSizeBytes} bytes)`,
    );
  }
}

function checkHolds(trackCount: number, lastTrack: number, name: string, role: string): void {
  if (lastTrack >= trackCount) {
    throw new GsnapError(
      "GSC_INTERMEDIATE_TOO_SMALL",
      `Cannot use ${name} as ${role}: it has ${trackCount} tracks and the source extent reaches track ${lastTrack}; name a larger volume or * to allocate one`,
    );
  }
}
