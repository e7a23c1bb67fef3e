// JSON Schemas shared by the routes: they validate requests, shape replies (fast-json-stringify
// drops what a schema does not name) and feed the OpenAPI document. Names and extents are typed
// here but checked by geometry/, so that a bad VOLSER gets VOLSER_INVALID, not REQUEST_INVALID.

import { ERROR_CODES } from "../errors/codes.js";

/** Shared by reference (addSchema in build-api), so the OpenAPI document names it once. */
export const ERROR_SCHEMA = {
  $id: "Error",
  type: "object",
  description: "Every refusal: a code from the one error list and a message saying why.",
  properties: {
    code: { type: "string", enum: Object.keys(ERROR_CODES) },
    message: { type: "string" },
  },
  required: ["code", "message"],
} as const;

/** Documents (and serializes) the error replies of a route. */
export const ERROR_RESPONSES = {
  "4xx": { description: "Refused: bad input, missing token, unknown volume...", $ref: "Error#" },
  "5xx": { description: "Failed: the store is closed or broken, or a bug", $ref: "Error#" },
} as const;

/** For routes that take no query parameters: any given is refused. */
export const NO_QUERY = {
  type: "object",
  properties: {},
  additionalProperties: false,
} as const;

export const VOLSER_PARAMS = {
  type: "object",
  properties: {
    volser: { type: "string", description: "1 to 6 characters from A-Z 0-9 @ # $" },
  },
  required: ["volser"],
  additionalProperties: false,
} as const;

/** A GSC job as the storage systems name it: its id on the system that runs it, and its serial. */
export const JOB_REF_SCHEMA = {
  type: "object",
  properties: {
    id: { type: "string", description: "the job's id on the system that runs it" },
    serial: { type: "string", description: "the serial of the system that runs the job" },
  },
  required: ["id", "serial"],
} as const;

const VOLUME_INFO_PROPERTIES = {
  volser: { type: "string" },
  ssid: { type: "string" },
  model: { type: "string" },
  cylinders: { type: "integer" },
  heads: { type: "integer" },
  trackSizeBytes: { type: "integer" },
  trackCount: { type: "integer" },
  sizeBytes: { type: "integer" },
  readOnly: { type: "boolean" },
  createdAt: { type: "string", format: "date-time" },
} as const;

/** Only on a GSC job's intermediate (P' or S'): absent on every other volume. */
const VOLUME_JOB = {
  ...JOB_REF_SCHEMA,
  description: "the GSC job whose intermediate the volume is; it deletes the volume when it ends",
} as const;

/** Only on a volume a copy left part old, part new (reads are allowed; a completed copy clears it). */
const VOLUME_INCONSISTENT = {
  type: "object",
  description: "the volume is part old, part new: a copy into it stopped before it completed",
  properties: {
    pair: {
      type: "string",
      description: "the pair whose copy it was: its primary SERIAL.SSID.VOLSER",
    },
    job: { ...JOB_REF_SCHEMA, description: "the GSC job whose copy it was" },
    since: { type: "string", format: "date-time" },
  },
  required: ["pair", "since"],
} as const;

export const VOLUME_INFO_SCHEMA = {
  type: "object",
  properties: { ...VOLUME_INFO_PROPERTIES, job: VOLUME_JOB, inconsistent: VOLUME_INCONSISTENT },
  required: Object.keys(VOLUME_INFO_PROPERTIES),
} as const;

export const VOLUME_USAGE_SCHEMA = {
  type: "object",
  properties: {
    ...VOLUME_INFO_PROPERTIES,
    job: VOLUME_JOB,
    inconsistent: VOLUME_INCONSISTENT,
    allocatedTracks: { type: "integer" },
    allocatedBytes: { type: "integer" },
  },
  required: [...Object.keys(VOLUME_INFO_PROPERTIES), "allocatedTracks", "allocatedBytes"],
} as const;

export const COLLECTOR_SCHEMA = {
  type: "object",
  properties: {
    orphansReleased: { type: "integer" },
    chunksMoved: { type: "integer" },
    segmentsRemoved: { type: "integer" },
  },
  required: ["orphansReleased", "chunksMoved", "segmentsRemoved"],
} as const;
