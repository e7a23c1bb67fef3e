// What the catalog keeps of a volume, and what the store shows of one.

import type { Geometry } from "../geometry/geometry.js";
import { trackCount } from "../geometry/geometry.js";
import { depthFor, type Tree } from "./mapping-tree.js";

/**
 * A GSC job as the storage systems name it: its id on the system that runs it, and that system's
 * serial (a target's S' belongs to a job of the source system).
 */
export interface JobRef {
  readonly id: string;
  readonly serial: string;
}

/**
 * A volume that a copy left part old, part new (DRBD's "Inconsistent"): a pair's secondary took
 * tracks before its pair reached duplex. Reads are still allowed; a later copy that reaches duplex
 * clears it.
 */
export interface InconsistentMark {
  /** The pair whose copy it was: its primary, SERIAL.SSID.VOLSER. */
  readonly pair: string;
  /** The GSC job whose copy the pair was, when it was one. */
  readonly job?: JobRef;
  /** When the copy first wrote to the volume. */
  readonly since: string;
}

export interface VolumeRecord {
  readonly volser: string;
  readonly ssid: string;
  readonly geometry: Geometry;
  /** The mapping tree's root node id; 0 when nothing is mapped. */
  readonly root: number;
  /** Read-only volumes refuse host writes (pair secondaries, later). */
  readonly readOnly: boolean;
  readonly createdAt: string;
  /**
   * Which volume of this VOLSER it is: a volume deleted and created anew gets a new one, so that
   * journal records of the old volume never reach the new (absent in stores older than the
   * journal: 0).
   */
  readonly incarnation?: number;
  /**
   * The GSC job that created the volume as its intermediate (P' or S') and deletes it when it
   * ends; absent for every other volume.
   */
  readonly job?: JobRef;
  /** Set while the volume is part old, part new: see InconsistentMark. */
  readonly inconsistent?: InconsistentMark;
}

/** A volume's incarnation; -1 for no volume, which no journal record names. */
export function incarnationOf(volume: VolumeRecord | undefined): number {
  if (volume === undefined) return -1;
  return volume.incarnation ?? 0;
}

export interface VolumeInfo {
  readonly volser: string;
  readonly ssid: string;
  readonly model: string;
  readonly cylinders: number;
  readonly heads: number;
  readonly trackSizeBytes: number;
  readonly trackCount: number;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly createdAt: string;
  /** Set on a GSC job's intermediate: the job that deletes it when it ends. */
  readonly job?: JobRef;
  /** Set on a volume a copy left part old, part new. */
  readonly inconsistent?: InconsistentMark;
}

export interface VolumeUsage extends VolumeInfo {
  readonly allocatedTracks: number;
  readonly allocatedBytes: number;
}

export function treeOf(volume: VolumeRecord): Tree {
  const tracks = trackCount(volume.geometry);
  return { root: volume.root, depth: depthFor(tracks), trackCount: tracks };
}

export function infoOf(volume: VolumeRecord): VolumeInfo {
  const tracks = trackCount(volume.geometry);
  return {
    volser: volume.volser,
    ssid: volume.ssid,
    model: volume.geometry.model,
    cylinders: volume.geometry.cylinders,
    heads: volume.geometry.heads,
    trackSizeBytes: volume.geometry.trackSizeBytes,
    trackCount: tracks,
    sizeBytes: tracks * volume.geometry.trackSizeBytes,
    readOnly: volume.readOnly,
    createdAt: volume.createdAt,
    ...(volume.job === undefined ? {} : { job: { id: volume.job.id, serial: volume.job.serial } }),
    ...(volume.inconsistent === undefined ? {} : { inconsistent: { ...volume.inconsistent } }),
  };
}
