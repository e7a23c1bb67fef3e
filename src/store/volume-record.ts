// What the catalog keeps of a volume, and what the store shows of one.

import type { Geometry } from "../geometry/geometry.js";
import { trackCount } from "../geometry/geometry.js";
import { depthFor, type Tree } from "./mapping-tree.js";

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
  };
}
