// JSON Schemas of the GSC and job routes: the GSC request, a job, the id parameter and the wait
// query. The four GSC parameters are typed here but checked by gsc/, so that a bad VOLSER gets
// VOLSER_INVALID, not REQUEST_INVALID.

import { ERROR_CODES } from "../errors/codes.js";
import { GSC_STEPS } from "../gsc/job-service.js";

/** The longest a wait may be asked to last: below the idle timeouts of common HTTP proxies. */
export const MAX_WAIT_SECONDS = 300;
/** A wait without `timeoutSeconds` lasts this long. */
export const DEFAULT_WAIT_SECONDS = 30;

const STEP_NUMBERS = Object.keys(GSC_STEPS).map(Number);

export const GSC_BODY = {
  type: "object",
  properties: {
    source: { type: "string", description: "P: VOLSER:C.H-C.H[+C.H-C.H...]" },
    intermediate: { type: "string", description: "P': a VOLSER, or * to allocate one" },
    target: { type: "string", description: "S: SERIAL.SSID.VOLSER[:C.H-C.H...]" },
    targetIntermediate: { type: "string", description: "S': a VOLSER, or * to allocate one" },
    bandwidthMBps: { type: "number", description: "caps the transfer, in MB/s (10^6 B/s)" },
    notifyUrl: { type: "string", description: "POSTed the job's JSON when it ends" },
  },
  required: ["source", "intermediate", "target"],
  additionalProperties: false,
} as const;

const REQUEST_SCHEMA = {
  type: "object",
  properties: GSC_BODY.properties,
  required: GSC_BODY.required,
} as const;

const STEP_RECORD_SCHEMA = {
  type: "object",
  properties: {
    step: { type: "integer", enum: STEP_NUMBERS },
    name: { type: "string" },
    startedAt: { type: "string", format: "date-time" },
    endedAt: { type: "string", format: "date-time", description: "absent while it runs" },
    note: { type: "string" },
  },
  required: ["step", "name", "startedAt"],
} as const;

const PROGRESS_SCHEMA = {
  type: "object",
  properties: {
    tracksTotal: { type: "integer" },
    tracksDone: { type: "integer", description: "sent, or matched at step 508" },
    tracksToSend: { type: "integer", description: "from step 510: the tracks that differed" },
    tracksSent: { type: "integer", description: "from step 510: of tracksToSend" },
    bytesTotal: { type: "integer" },
    bytesDone: { type: "integer" },
    rateBytesPerSecond: { type: "number" },
    etaSeconds: { type: ["number", "null"], description: "null when idle or unknown" },
  },
  required: [
    "tracksTotal",
    "tracksDone",
    "bytesTotal",
    "bytesDone",
    "rateBytesPerSecond",
    "etaSeconds",
  ],
} as const;

export const JOB_INFO_SCHEMA = {
  type: "object",
  properties: {
    id: { type: "string" },
    request: REQUEST_SCHEMA,
    state: { type: "string", enum: ["queued", "running", "succeeded", "failed", "cancelled"] },
    step: {
      type: "integer",
      enum: STEP_NUMBERS,
      description: "the step running now, or the last one reached (DESIGN.md §3)",
    },
    steps: { type: "array", items: STEP_RECORD_SCHEMA },
    progress: PROGRESS_SCHEMA,
    createdAt: { type: "string", format: "date-time" },
    endedAt: { type: "string", format: "date-time" },
    resultCode: {
      type: "string",
      enum: ["OK", ...Object.keys(ERROR_CODES)],
      description: "set when the job ended: OK, else the error code",
    },
    resultMessage: { type: "string" },
    resumed: {
      type: "array",
      description:
        "each time the job went on after this system restarted or the link to the target came back, oldest first; absent: never",
      items: {
        type: "object",
        properties: {
          at: { type: "string", format: "date-time" },
          fromStep: { type: "integer", enum: STEP_NUMBERS, description: "the step run again" },
          after: { type: "string", enum: ["system restart", "link failure"] },
        },
        required: ["at", "fromStep", "after"],
      },
    },
  },
  required: ["id", "request", "state", "step", "steps", "progress", "createdAt"],
} as const;

export const JOB_ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", maxLength: 32, description: "a job id, like J000001" } },
  required: ["id"],
  additionalProperties: false,
} as const;

export const WAIT_QUERY = {
  type: "object",
  properties: {
    timeoutSeconds: {
      type: "string",
      pattern: "^[0-9]{1,3}$",
      description: `answer the job as it is after this many seconds (default ${DEFAULT_WAIT_SECONDS}, at most ${MAX_WAIT_SECONDS})`,
    },
  },
  additionalProperties: false,
} as const;
