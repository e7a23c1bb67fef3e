// Track addresses (C.H) and extents (C.H-C.H, joined with +): parse, format, validate. Pure logic.
//
// A track's index is cylinder * HEADS + head; an extent is an inclusive range of indexes.

import { GsnapError } from "../errors/gsnap-error.js";
import { type Geometry, HEADS, trackCount } from "./geometry.js";

export interface TrackAddress {
  readonly cylinder: number;
  readonly head: number;
}

/** An inclusive range of track indexes. */
export interface Extent {
  readonly firstTrack: number;
  readonly lastTrack: number;
}

/** A request names at most 32 extents (DESIGN §1). */
export const MAX_EXTENTS = 32;

/** Cylinder numbers have at most 7 digits (1,182,006 cylinders at most); longer is malformed. */
const ADDRESS_PATTERN = /^(\d{1,7})\.(\d{1,2})$/;

export function parseTrackAddress(text: string): TrackAddress {
  const match = ADDRESS_PATTERN.exec(text.trim());
  if (match === null) {
    throw new GsnapError(
      "ADDRESS_MALFORMED",
      `Cannot read track address "${text}": write it as CYLINDER.HEAD, e.g. 100.14`,
    );
  }
  const cylinder = Number(match[1]);
  const head = Number(match[2]);
  if (head >= HEADS) {
    throw new GsnapError(
      "HEAD_OUT_OF_RANGE",
      `Cannot read track address "${text}": head ${head} is past the last head (${HEADS - 1})`,
    );
  }
  return { cylinder, head };
}

export function formatTrackAddress(address: TrackAddress): string {
  return `${address.cylinder}.${address.head}`;
}

export function trackIndex(address: TrackAddress): number {
  return address.cylinder * HEADS + address.head;
}

export function trackAddress(index: number): TrackAddress {
  return { cylinder: Math.floor(index / HEADS), head: index % HEADS };
}

export function parseExtent(text: string): Extent {
  const parts = text.trim().split("-");
  if (parts.length !== 2) {
    throw new GsnapError(
      "EXTENT_MALFORMED",
      `Cannot read extent "${text}": write it as C.H-C.H, e.g. 0.0-99.14`,
    );
  }
  const first = trackIndex(parseTrackAddress(parts[0]));
  const last = trackIndex(parseTrackAddress(parts[1]));
  if (last < first) {
    throw new GsnapError(
      "EXTENT_REVERSED",
      `Cannot read extent "${text}": it ends before it starts`,
    );
  }
  return { firstTrack: first, lastTrack: last };
}

/** Parses `C.H-C.H[+C.H-C.H...]`, at most MAX_EXTENTS of them. */
export function parseExtentList(text: string): Extent[] {
  const parts = text.split("+");
  if (parts.length > MAX_EXTENTS) {
    throw new GsnapError(
      "EXTENT_LIST_TOO_LONG",
      `Cannot read extents "${text}": ${parts.length} extents given, at most ${MAX_EXTENTS} allowed`,
    );
  }
  return parts.map(parseExtent);
}

export function formatExtent(extent: Extent): string {
  const first = formatTrackAddress(trackAddress(extent.firstTrack));
  return `${first}-${formatTrackAddress(trackAddress(extent.lastTrack))}`;
}

export function formatExtentList(extents: readonly Extent[]): string {
  return extents.map(formatExtent).join("+");
}

export function extentTrackCount(extent: Extent): number {
  return extent.lastTrack - extent.firstTrack + 1;
}

export function totalTrackCount(extents: readonly Extent[]): number {
  return extents.reduce((sum, extent) => sum + extentTrackCount(extent), 0);
}

/** The whole volume as one extent. */
export function wholeVolume(geometry: Geometry): Extent {
  return { firstTrack: 0, lastTrack: trackCount(geometry) - 1 };
}

/** Refuses an extent that runs past the last cylinder of `geometry`; `volser` names it in the message. */
export function checkExtentInVolume(extent: Extent, geometry: Geometry, volser: string): void {
  if (extent.lastTrack >= trackCount(geometry)) {
    throw new GsnapError(
      "CYLINDER_OUT_OF_RANGE",
      `Cannot use extent ${formatExtent(extent)} on volume "${volser}": ` +
        `it has cylinders 0 to ${geometry.cylinders - 1}`,
    );
  }
}

export function extentsOverlap(a: Extent, b: Extent): boolean {
  return a.firstTrack <= b.lastTrack && b.firstTrack <= a.lastTrack;
}

/** Whether any extent of one list shares a track with any of the other. */
export function extentListsOverlap(a: readonly Extent[], b: readonly Extent[]): boolean {
  return a.some((x) => b.some((y) => extentsOverlap(x, y)));
}
