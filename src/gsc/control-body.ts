// The bodies of CONTROL requests and their RESULTs (docs/link-protocol.md, "CONTROL"): what the
// source system of a GSC asks of the target system, checked field by field on arrival. Pure:
// JSON in, typed values or a GsnapError out. Both sides use these, so they cannot drift apart.

import { GsnapError } from "../errors/gsnap-error.js";
import { checkSerial, checkSsid, checkVolser } from "../geometry/names.js";
import { ControlOp, type ControlOpName } from "../link/frame-types.js";
import { CHECKSUM_BYTES } from "./copy-runs.js";

/** A checksum list covers at most this many tracks: 32,768 × 8 bytes in base64 fits a RESULT. */
export const MAX_CHECKSUM_TRACKS = 32_768;
/**
 * Runs one CHECKSUMS request may name: about 20 bytes of JSON each, so 8,192 of them take some
 * 160 KiB of the 512 KiB a CONTROL body may hold. A repeated GSC asks for the scattered tracks it
 * sent in as few requests as that allows.
 */
export const MAX_CHECKSUM_RUNS = 8_192;

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
  /** The serial of the job's system; when given, it must be the peer's (else PEER_FORBIDDEN). */
  readonly serial?: string;
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
  /** The serial of the job's system; when given, it must be the peer's (else PEER_FORBIDDEN). */
  readonly serial?: string;
}

export interface SnapRequestBody {
  readonly job: string;
  /** The serial of the job's system; when given, it must be the peer's (else PEER_FORBIDDEN). */
  readonly serial?: string;
  /** `VOLSER:C.H-C.H[+...]`. */
  readonly source: string;
  readonly target: string;
}

export interface ChecksumsRequest {
  readonly job: string;
  /** The serial of the job's system; when given, it must be the peer's (else PEER_FORBIDDEN). */
  readonly serial?: string;
  readonly volser: string;
  /** The tracks asked for, in the order of the answer; at most MAX_CHECKSUM_TRACKS in all. */
  readonly runs: readonly { readonly firstTrack: number; readonly count: number }[];
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

/** The job's system, optional: sources older than per-peer reservations send none. */
function jobSerial(body: Record<string, unknown>): { serial?: string } {
  if (body.serial === undefined) return {};
  return { serial: checkSerial(field(body, "serial", "string")) };
}

function count(body: Record<string, unknown>, name: string, max: number): number {
  const value = field<number>(body, name, "number");
  if (!isCount(value, max)) {
    throw bad(`"${name}" is not an integer from 0 to ${max}`);
  }
  return value;
}

/** `[[firstTrack, count], ...]`: 1 to MAX_CHECKSUM_RUNS runs of MAX_CHECKSUM_TRACKS in all. */
function checksumRuns(value: unknown): { firstTrack: number; count: number }[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CHECKSUM_RUNS) {
    throw bad(`"runs" is not a list of 1 to ${MAX_CHECKSUM_RUNS} runs`);
  }
  let tracks = 0;
  const runs = value.map((run: unknown, index) => {
    if (!Array.isArray(run) || run.length !== 2) {
      throw bad(`run ${index} is not [firstTrack, count]`);
    }
    const [firstTrack, count] = run as unknown[];
    if (!isCount(firstTrack, 0xffff_ffff) || !isCount(count, MAX_CHECKSUM_TRACKS) || count < 1) {
      throw bad(`run ${index} is not [0 to 4294967295, 1 to ${MAX_CHECKSUM_TRACKS}]`);
    }
    tracks += count;
    return { firstTrack, count };
  });
  if (tracks > MAX_CHECKSUM_TRACKS) {
    throw bad(`the runs hold ${tracks} tracks, more than ${MAX_CHECKSUM_TRACKS}`);
  }
  return runs;
}

function isCount(value: unknown, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max;
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
          ...jobSerial(body),
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
      return { op: name, body: { job: job(body), ...jobSerial(body) } };
    case "SNAP":
      return {
        op: name,
        body: {
          job: job(body),
          ...jobSerial(body),
          source: field(body, "source", "string"),
          target: field(body, "target", "string"),
        },
      };
    case "CHECKSUMS":
      return {
        op: name,
        body: {
          job: job(body),
          ...jobSerial(body),
          volser: checkVolser(field(body, "volser", "string")),
          runs: checksumRuns(body.runs),
        },
      };
    case "FLUSH":
      return { op: name, body: {} };
  }
}

/** A checksum list (8 bytes a track, big-endian) as it travels in a RESULT: in base64. */
export function encodeChecksums(list: Buffer): string {
  return list.toString("base64");
}

/** The checksum list of a RESULT, which must hold `expected` tracks. */
export function decodeChecksums(text: string, expected: number): Buffer {
  const list = Buffer.from(text, "base64");
  if (list.length !== expected * CHECKSUM_BYTES) {
    throw new GsnapError(
      "LINK_PROTOCOL",
      `Cannot read checksums: ${list.length} bytes for ${expected} tracks`,
    );
  }
  return list;
}
