// The bodies of CONTROL requests and their RESULTs (docs/link-protocol.md, "CONTROL"): what the
// source system of a GSC asks of the target system, checked field by field on arrival. Pure:
// JSON in, typed values or a GsnapError out. Both sides use these, so they cannot drift apart.

import { GsnapError } from "../errors/gsnap-error.js";
import { checkSsid, checkVolser } from "../geometry/names.js";
import { ControlOp, type ControlOpName } from "../link/frame-types.js";

/** A checksum list covers at most this many tracks: 32,768 × 8 bytes in base64 fits a RESULT. */
export const MAX_CHECKSUM_TRACKS = 32_768;

/** A job id as the source names it: "J" and six digits, or longer. */
const JOB_PATTERN = /^J\d{6,12}$/;

export interface VolumeInfoRequest {
  readonly volser: string;
}

export interface RemoteVolumeInfo {
  readonly volser: string;
  readonly ssid: string;
  readonly model: string;
  readonly cylinders: number;
  readonly trackCount: number;
  readonly trackSizeBytes: number;
  /** "primary" or "secondary" when the volume is in a pair, else null. */
  readonly pairRole: "primary" | "secondary" | null;
  /** Jobs holding a reservation on the volume. */
  readonly reservedBy: readonly string[];
}

export interface ReserveRequest {
  readonly job: string;
  readonly ssid: string;
  /** The volume to reserve; with `create`, absent asks the target to name it. */
  readonly volser?: string;
  /** The part reserved, `C.H-C.H[+...]`; absent: the whole volume. */
  readonly extents?: string;
  /** Create the volume with this geometry; it is deleted when the job is released. */
  readonly create?: { readonly cylinders: number; readonly trackSizeBytes: number };
}

export interface ReleaseRequest {
  readonly job: string;
}

export interface SnapRequestBody {
  readonly job: string;
  /** `VOLSER:C.H-C.H[+...]`. */
  readonly source: string;
  readonly target: string;
}

export interface ChecksumsRequest {
  readonly job: string;
  readonly volser: string;
  readonly firstTrack: number;
  readonly count: number;
}

export type ControlRequest =
  | { readonly op: "VOLUME_INFO"; readonly body: VolumeInfoRequest }
  | { readonly op: "RESERVE"; readonly body: ReserveRequest }
  | { readonly op: "RELEASE"; readonly body: ReleaseRequest }
  | { readonly op: "SNAP"; readonly body: SnapRequestBody }
  | { readonly op: "CHECKSUMS"; readonly body: ChecksumsRequest }
  | { readonly op: "FLUSH"; readonly body: Record<string, never> };

const OP_NAMES = new Map<number, ControlOpName>(
  Object.entries(ControlOp).map(([name, code]) => [code, name as ControlOpName]),
);

function bad(what: string): GsnapError {
  return new GsnapError("REQUEST_INVALID", `Cannot take a control request: ${what}`);
}

function field<T>(body: Record<string, unknown>, name: string, kind: string): T {
  const value = body[name];
  if (typeof value !== kind) throw bad(`"${name}" is not a ${kind}`);
  return value as T;
}

function job(body: Record<string, unknown>): string {
  const id = field<string>(body, "job", "string");
  if (!JOB_PATTERN.test(id)) throw bad(`job "${id}" is not a job id`);
  return id;
}

function count(body: Record<string, unknown>, name: string, max: number): number {
  const value = field<number>(body, name, "number");
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw bad(`"${name}" is not an integer from 0 to ${max}`);
  }
  return value;
}

/** Reads a CONTROL frame's op and JSON body into a checked request. */
export function parseControl(op: number, text: string): ControlRequest {
  const name = OP_NAMES.get(op);
  if (name === undefined) throw bad(`op ${op} is unknown`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw bad("the body is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw bad("the body is not a JSON object");
  }
  switch (name) {
    case "VOLUME_INFO":
      return { op: name, body: { volser: checkVolser(field(body, "volser", "string")) } };
    case "RESERVE": {
      const create = body.create as Record<string, unknown> | undefined;
      if (create !== undefined && (typeof create !== "object" || create === null)) {
        throw bad('"create" is not an object');
      }
      return {
        op: name,
        body: {
          job: job(body),
          ssid: checkSsid(field(body, "ssid", "string")),
          volser:
            body.volser === undefined ? undefined : checkVolser(field(body, "volser", "string")),
          extents:
            body.extents === undefined ? undefined : field<string>(body, "extents", "string"),
          create:
            create === undefined
              ? undefined
              : {
                  cylinders: count(create, "cylinders", 10_000_000),
                  trackSizeBytes: count(create, "trackSizeBytes", 1_048_576),
                },
        },
      };
    }
    case "RELEASE":
      return { op: name, body: { job: job(body) } };
    case "SNAP":
      return {
        op: name,
        body: {
          job: job(body),
          source: field(body, "source", "string"),
          target: field(body, "target", "string"),
        },
      };
    case "CHECKSUMS":
      return {
        op: name,
        body: {
          job: job(body),
          volser: checkVolser(field(body, "volser", "string")),
          firstTrack: count(body, "firstTrack", 0xffff_ffff),
          count: count(body, "count", MAX_CHECKSUM_TRACKS),
        },
      };
    case "FLUSH":
      return { op: name, body: {} };
  }
}

/** Checksums as they travel in a RESULT: 8 bytes each, big-endian, in base64. */
export function encodeChecksums(checksums: readonly bigint[]): string {
  const bytes = Buffer.alloc(checksums.length * 8);
  checksums.forEach((checksum, index) => {
    bytes.writeBigUInt64BE(checksum, index * 8);
  });
  return bytes.toString("base64");
}

export function decodeChecksums(text: string, expected: number): bigint[] {
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== expected * 8) {
    throw new GsnapError(
      "LINK_PROTOCOL",
      `Cannot read checksums: ${bytes.length} bytes for ${expected} tracks`,
    );
  }
  return Array.from({ length: expected }, (_, index) => bytes.readBigUInt64BE(index * 8));
}
