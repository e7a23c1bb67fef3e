// What a GSC request is made of, checked (DESIGN.md §3): the source extents P, the intermediate
// P', the target S with its optional extent, the optional target intermediate S', the bandwidth cap
// and the notify URL. Pure logic: every bad input gets its typed error here, before any I/O.
// Whether the volumes exist and are large enough is the job manager's to check, against the stores.

import { GsnapError } from "../errors/gsnap-error.js";
import {
  type Extent,
  extentsOverlap,
  formatExtentList,
  parseExtentList,
  totalTrackCount,
} from "../geometry/address.js";
import { checkVolser } from "../geometry/names.js";
import { parseVolumeExtents } from "../geometry/volume-extents.js";
import { parseRemoteVolume } from "../pprc/pair-spec.js";
import type { GscRequest } from "./job-service.js";

/** An intermediate volume: named, or `*` for one gsnap allocates and deletes afterwards. */
export type IntermediateSpec = { readonly volser: string } | "auto";

export interface GscSpec {
  readonly source: { readonly volser: string; readonly extents: Extent[] };
  readonly intermediate: IntermediateSpec;
  readonly target: {
    readonly serial: string;
    readonly ssid: string;
    readonly volser: string;
    /** The target extent: given in S, or P's addresses when S' is given without one. */
    readonly extents?: Extent[];
  };
  readonly targetIntermediate?: IntermediateSpec;
  readonly bandwidthBytesPerSecond?: number;
  readonly notifyUrl?: string;
}

/** The text form a GSC is written in, for messages. */
export const GSC_FORM = "\"P, P', S[, S']\"";
export const GSC_EXAMPLE =
  'gsnap gsc "VOL001:0.0-99.14, *, 0000012345.01A0.VOL900:100.0-199.14, *"';

/**
 * The largest bandwidth cap, in MB/s: 100 GB/s is beyond any link a storage system has today, so a
 * larger number is a typo (bytes or bits for megabytes), not a cap.
 */
export const MAX_BANDWIDTH_MBPS = 100_000;

/**
 * The smallest cap, in MB/s: at 0.1 MB/s a batch of tracks (4 MiB) waits 42 s for its turn; below
 * it a copy would crawl for days, and a cap under one byte per second rounds to none at all.
 */
export const MIN_BANDWIDTH_MBPS = 0.1;

const BYTES_PER_MB = 1_000_000;

/** Splits the positional form `"P, P', S[, S']"` into its parameters. */
export function splitGscText(text: string): {
  source: string;
  intermediate: string;
  target: string;
  targetIntermediate?: string;
} {
  const parts = text.split(",").map((part) => part.trim());
  if (parts.length < 3 || parts.length > 4 || parts.some((part) => part === "")) {
    throw new GsnapError(
      "GSC_REQUEST_MALFORMED",
      `Cannot read GSC request "${text}": write it as ${GSC_FORM}, ` +
        `three or four parameters separated by commas, like ${GSC_EXAMPLE}`,
    );
  }
  const [source, intermediate, target, targetIntermediate] = parts;
  return targetIntermediate === undefined
    ? { source, intermediate, target }
    : { source, intermediate, target, targetIntermediate };
}

/** Checks a GSC request; returns the job it asks for. */
export function checkGscRequest(request: GscRequest): GscSpec {
  const source = checkSource(request.source);
  const action = `Cannot copy ${request.source} to ${request.target}`;
  const intermediate = checkIntermediate(request.intermediate, "P'");
  if (intermediate !== "auto" && intermediate.volser === source.volser) {
    throw new GsnapError(
      "GSC_REQUEST_MALFORMED",
      `${action}: the intermediate P' "${intermediate.volser}" is the source volume itself; ` +
        "name another volume or * to have one allocated",
    );
  }
  const targetIntermediate =
    request.targetIntermediate === undefined
      ? undefined
      : checkIntermediate(request.targetIntermediate, "S'");
  const target = checkTarget(request.target, { source, targetIntermediate, action });
  return {
    source,
    intermediate,
    target,
    ...(targetIntermediate === undefined ? {} : { targetIntermediate }),
    ...checkOptions(request, action),
  };
}

function checkSource(text: string): GscSpec["source"] {
  const { volser, extents } = parseVolumeExtents(text);
  if (extents === undefined) {
    throw new GsnapError(
      "GSC_REQUEST_MALFORMED",
      `Cannot copy "${text}": the source P names no extents; ` +
        `write it as VOLSER:C.H-C.H[+C.H-C.H...], like VOL001:0.0-99.14`,
    );
  }
  checkNoOverlap(extents, `Cannot copy "${text}"`);
  return { volser, extents };
}

function checkIntermediate(text: string, name: "P'" | "S'"): IntermediateSpec {
  const trimmed = text.trim();
  if (trimmed === "*") return "auto";
  try {
    return { volser: checkVolser(trimmed) };
  } catch (cause) {
    throw new GsnapError(
      "VOLSER_INVALID",
      `Cannot use "${text}" as the intermediate ${name}: write a VOLSER ` +
        "(1 to 6 characters from A-Z 0-9 @ # $) or * to have one allocated",
      { cause },
    );
  }
}

function checkTarget(
  text: string,
  context: {
    source: GscSpec["source"];
    targetIntermediate: IntermediateSpec | undefined;
    action: string;
  },
): GscSpec["target"] {
  const colon = text.indexOf(":");
  const volume = parseRemoteVolume((colon < 0 ? text : text.slice(0, colon)).trim());
  const given = colon < 0 ? undefined : parseExtentList(text.slice(colon + 1));
  if (context.targetIntermediate === undefined) {
    if (given !== undefined) {
      throw new GsnapError(
        "GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE",
        `${context.action}: the target names extent ${formatExtentList(given)} but there is no ` +
          "target intermediate S'; add S' (a VOLSER or *), or drop the extent to copy to P's addresses",
      );
    }
    return volume;
  }
  if (given === undefined) return { ...volume, extents: context.source.extents };
  const sourceTracks = totalTrackCount(context.source.extents);
  const targetTracks = totalTrackCount(given);
  if (sourceTracks !== targetTracks) {
    throw new GsnapError(
      "EXTENT_SIZE_MISMATCH",
      `${context.action}: the source extents hold ${sourceTracks} tracks but the target extents ` +
        `hold ${targetTracks}; give target extents of the same number of tracks`,
    );
  }
  checkNoOverlap(given, context.action);
  return { ...volume, extents: given };
}

/** Refuses extents of one volume that share a track: the copy would write it twice. */
function checkNoOverlap(extents: readonly Extent[], action: string): void {
  for (let i = 0; i < extents.length; i += 1) {
    for (let j = i + 1; j < extents.length; j += 1) {
      if (extentsOverlap(extents[i], extents[j])) {
        throw new GsnapError(
          "EXTENTS_OVERLAP",
          `${action}: extents ${formatExtentList([extents[i]])} and ` +
            `${formatExtentList([extents[j]])} overlap; name each track once`,
        );
      }
    }
  }
}

function checkOptions(
  request: GscRequest,
  action: string,
): Pick<GscSpec, "bandwidthBytesPerSecond" | "notifyUrl"> {
  const options: { bandwidthBytesPerSecond?: number; notifyUrl?: string } = {};
  const bandwidth = request.bandwidthMBps;
  if (bandwidth !== undefined) {
    if (
      typeof bandwidth !== "number" ||
      !Number.isFinite(bandwidth) ||
      bandwidth < MIN_BANDWIDTH_MBPS ||
      bandwidth > MAX_BANDWIDTH_MBPS
    ) {
      throw new GsnapError(
        "REQUEST_INVALID",
        `${action}: bandwidth ${JSON.stringify(bandwidth)} MB/s is not a number from ` +
          `${MIN_BANDWIDTH_MBPS} to ${MAX_BANDWIDTH_MBPS}; give the cap in MB/s, like 200`,
      );
    }
    options.bandwidthBytesPerSecond = Math.round(bandwidth * BYTES_PER_MB);
  }
  if (request.notifyUrl !== undefined) {
    options.notifyUrl = checkNotifyUrl(request.notifyUrl, action);
  }
  return options;
}

function checkNotifyUrl(text: string, action: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `${action}: notify URL "${text}" is not an http or https URL; ` +
        "write it like https://ops.example.com/gsc-done",
    );
  }
  return text;
}
