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

export const VOLUME_INFO_SCHEMA = {
  type: "object",
  properties: VOLUME_INFO_PROPERTIES,
  required: Object.keys(VOLUME_INFO_PROPERTIES),
} as const;

export const VOLUME_USAGE_SCHEMA = {
  type: "object",
  properties: {
    ...VOLUME_INFO_PROPERTIES,
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
