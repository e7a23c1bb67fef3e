// CKD volume geometry: device models, cylinder and head counts, track size. Pure logic.

import { GsnapError } from "../errors/gsnap-error.js";

/** Every 3390 has 15 tracks (heads) per cylinder. */
export const HEADS = 15;

/** The 3390's 56,664-byte track rounded up to a multiple of 4 KiB, so NBD clients see aligned blocks. */
export const DEFAULT_TRACK_SIZE_BYTES = 57_344;

/** Track sizes are multiples of this, so tracks stay aligned to 4 KiB blocks. */
export const TRACK_SIZE_ALIGN_BYTES = 4_096;

/** One track is one chunk and a partial write rewrites it whole; past 1 MiB that costs too much. */
export const MAX_TRACK_SIZE_BYTES = 1_048_576;

/** The largest extended address volume (3390-A, EAV) has 1,182,006 cylinders. */
export const MAX_CYLINDERS = 1_182_006;

/** Cylinder counts of the fixed-size 3390 models; 3390-A takes any count up to MAX_CYLINDERS. */
export const MODEL_CYLINDERS: Readonly<Record<string, number>> = {
  "3390-1": 1_113,
  "3390-2": 2_226,
  "3390-3": 3_339,
  "3390-9": 10_017,
  "3390-27": 32_760,
  "3390-54": 65_520,
};

export const EAV_MODEL = "3390-A";

export interface Geometry {
  readonly model: string;
  readonly cylinders: number;
  readonly heads: number;
  readonly trackSizeBytes: number;
}

export interface GeometryRequest {
  readonly model?: string;
  readonly cylinders?: number;
  readonly trackSizeBytes?: number;
}

/**
 * The geometry for a model and/or cylinder count. A fixed model fixes its cylinders (a different
 * explicit count is refused); a bare cylinder count means 3390-A unless it equals a fixed model's.
 */
export function geometryFor(request: GeometryRequest): Geometry {
  const trackSizeBytes = checkTrackSize(request.trackSizeBytes ?? DEFAULT_TRACK_SIZE_BYTES);
  const model = request.model ?? (request.cylinders === undefined ? "3390-3" : EAV_MODEL);
  if (model === EAV_MODEL) {
    if (request.cylinders === undefined) {
      throw new GsnapError(
        "CYLINDERS_INVALID",
        `Cannot size a ${EAV_MODEL} volume: give its cylinder count (1 to ${MAX_CYLINDERS})`,
      );
    }
    return { model, cylinders: checkCylinders(request.cylinders), heads: HEADS, trackSizeBytes };
  }
  const modelCylinders = MODEL_CYLINDERS[model];
  if (modelCylinders === undefined) {
    const known = [...Object.keys(MODEL_CYLINDERS), EAV_MODEL].join(", ");
    throw new GsnapError("MODEL_UNKNOWN", `Cannot use model "${model}": known models are ${known}`);
  }
  if (request.cylinders !== undefined && request.cylinders !== modelCylinders) {
    throw new GsnapError(
      "CYLINDERS_INVALID",
      `Cannot give model "${model}" ${request.cylinders} cylinders: it has ${modelCylinders}`,
    );
  }
  return { model, cylinders: modelCylinders, heads: HEADS, trackSizeBytes };
}

export function trackCount(geometry: Geometry): number {
  return geometry.cylinders * geometry.heads;
}

export function volumeSizeBytes(geometry: Geometry): number {
  return trackCount(geometry) * geometry.trackSizeBytes;
}

function checkCylinders(cylinders: number): number {
  if (!Number.isInteger(cylinders) || cylinders < 1 || cylinders > MAX_CYLINDERS) {
    throw new GsnapError(
      "CYLINDERS_INVALID",
      `Cannot use ${cylinders} cylinders: a volume has 1 to ${MAX_CYLINDERS}`,
    );
  }
  return cylinders;
}

function checkTrackSize(trackSizeBytes: number): number {
  const aligned = Number.isInteger(trackSizeBytes) && trackSizeBytes % TRACK_SIZE_ALIGN_BYTES === 0;
  if (
    !aligned ||
    trackSizeBytes < TRACK_SIZE_ALIGN_BYTES ||
    trackSizeBytes > MAX_TRACK_SIZE_BYTES
  ) {
    throw new GsnapError(
      "TRACK_SIZE_INVALID",
      `Cannot use a track size of ${trackSizeBytes} bytes: it must be a multiple of ` +
        `${TRACK_SIZE_ALIGN_BYTES} from ${TRACK_SIZE_ALIGN_BYTES} to ${MAX_TRACK_SIZE_BYTES}`,
    );
  }
  return trackSizeBytes;
}
