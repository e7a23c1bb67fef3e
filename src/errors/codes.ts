// The one list of gsnap error codes. Each code has an HTTP status (for the API) and a CLI exit
// code. Codes are stable once released: append new ones, never rename or renumber.

export interface ErrorCodeInfo {
  readonly httpStatus: number;
  readonly exitCode: number;
  readonly summary: string;
}

export const ERROR_CODES = {
  // Geometry and addressing.
  ADDRESS_MALFORMED: { httpStatus: 400, exitCode: 10, summary: "a track address is not C.H" },
  EXTENT_MALFORMED: { httpStatus: 400, exitCode: 11, summary: "an extent is not C.H-C.H" },
  EXTENT_REVERSED: { httpStatus: 400, exitCode: 12, summary: "an extent ends before it starts" },
  HEAD_OUT_OF_RANGE: { httpStatus: 400, exitCode: 13, summary: "a head number is 15 or more" },
  CYLINDER_OUT_OF_RANGE: {
    httpStatus: 400,
    exitCode: 14,
    summary: "a cylinder is past the end of the volume",
  },
  EXTENT_LIST_TOO_LONG: { httpStatus: 400, exitCode: 15, summary: "more than 32 extents" },
  EXTENT_SIZE_MISMATCH: {
    httpStatus: 400,
    exitCode: 16,
    summary: "source and target extents differ in track count",
  },
  EXTENTS_OVERLAP: {
    httpStatus: 400,
    exitCode: 17,
    summary: "extents overlap where they must not",
  },
  // Names and volume attributes.
  VOLSER_INVALID: {
    httpStatus: 400,
    exitCode: 20,
    summary: "a VOLSER is not 1-6 of A-Z 0-9 @ # $",
  },
  SSID_INVALID: { httpStatus: 400, exitCode: 21, summary: "an SSID is not 4 hex digits" },
  SERIAL_INVALID: { httpStatus: 400, exitCode: 22, summary: "a serial is not 1-10 of 0-9 A-Z" },
  MODEL_UNKNOWN: { httpStatus: 400, exitCode: 23, summary: "an unknown device model" },
  CYLINDERS_INVALID: { httpStatus: 400, exitCode: 24, summary: "a cylinder count out of range" },
  TRACK_SIZE_INVALID: {
    httpStatus: 400,
    exitCode: 25,
    summary: "a track size that is not a positive multiple of 4096 within limits",
  },
  // Volumes.
  VOLUME_EXISTS: { httpStatus: 409, exitCode: 30, summary: "a volume with that VOLSER exists" },
  VOLUME_NOT_FOUND: { httpStatus: 404, exitCode: 31, summary: "no volume with that VOLSER" },
  VOLUME_READ_ONLY: { httpStatus: 409, exitCode: 32, summary: "the volume refuses writes" },
  IO_OUT_OF_RANGE: { httpStatus: 400, exitCode: 33, summary: "I/O past the end of a volume" },
  // The store.
  NO_SPACE: { httpStatus: 507, exitCode: 40, summary: "the store has no space left" },
  CHUNK_CORRUPT: { httpStatus: 500, exitCode: 41, summary: "a chunk failed its checksum" },
  STORE_LOCKED: { httpStatus: 409, exitCode: 42, summary: "another process has the store open" },
  STORE_FORMAT: { httpStatus: 500, exitCode: 43, summary: "the data dir is not a gsnap store" },
  STORE_CLOSED: { httpStatus: 503, exitCode: 44, summary: "the store is closed" },
  IO_ERROR: { httpStatus: 500, exitCode: 45, summary: "a disk read or write failed" },
  CHECK_FAILED: { httpStatus: 500, exitCode: 46, summary: "the store checker found problems" },
  JOURNAL_CORRUPT: {
    httpStatus: 500,
    exitCode: 47,
    summary: "a journal record failed its checksum",
  },
  TRACK_SIZE_MISMATCH: {
    httpStatus: 400,
    exitCode: 18,
    summary: "source and target volumes have different track sizes",
  },
  // Requests at the edges (API, CLI).
  REQUEST_INVALID: { httpStatus: 400, exitCode: 50, summary: "a request is malformed" },
  UNAUTHORIZED: { httpStatus: 401, exitCode: 51, summary: "a missing or wrong bearer token" },
  ROUTE_NOT_FOUND: { httpStatus: 404, exitCode: 52, summary: "no such API route" },
  SERVER_UNREACHABLE: {
    httpStatus: 503,
    exitCode: 53,
    summary: "the gsnap server cannot be reached",
  },
  INTERNAL: { httpStatus: 500, exitCode: 54, summary: "an unexpected server error" },
  // The peer link.
  LINK_PROTOCOL: {
    httpStatus: 502,
    exitCode: 55,
    summary: "a peer broke the link protocol (garbage, oversized or unexpected frames)",
  },
  LINK_AUTH_FAILED: {
    httpStatus: 502,
    exitCode: 56,
    summary: "a peer did not prove the shared link secret",
  },
  LINK_VERSION: {
    httpStatus: 502,
    exitCode: 57,
    summary: "a peer speaks no link protocol version in common",
  },
  LINK_WRONG_SERIAL: {
    httpStatus: 502,
    exitCode: 58,
    summary: "the peer is not the storage system serial expected",
  },
  LINK_DOWN: {
    httpStatus: 503,
    exitCode: 59,
    summary: "a peer link cannot be reached or closed with requests in flight",
  },
  // Replication paths.
  PATH_EXISTS: {
    httpStatus: 409,
    exitCode: 60,
    summary: "a path from that SSID to that remote subsystem exists",
  },
  PATH_NOT_FOUND: {
    httpStatus: 404,
    exitCode: 61,
    summary: "no path from that SSID to that remote subsystem",
  },
  LINK_SECRET_MISSING: {
    httpStatus: 409,
    exitCode: 62,
    summary: "the server has no link secret (gsnap serve --link-secret), so it makes no paths",
  },
  LINK_ADDRESS_INVALID: {
    httpStatus: 400,
    exitCode: 63,
    summary: "a path's links are not 1 to 8 distinct HOST:PORT addresses",
  },
  PATHS_UNAVAILABLE: {
    httpStatus: 503,
    exitCode: 64,
    summary: "this API was built without replication paths",
  },
  // Pairs.
  PAIR_EXISTS: {
    httpStatus: 409,
    exitCode: 65,
    summary: "the volume is already in a pair (terminate it first)",
  },
  PAIR_NOT_FOUND: { httpStatus: 404, exitCode: 66, summary: "the volume is in no pair" },
  PAIR_STATE_INVALID: {
    httpStatus: 409,
    exitCode: 67,
    summary: "the pair's state or role does not allow this (resume of a duplex pair, ...)",
  },
  PAIR_GEOMETRY_MISMATCH: {
    httpStatus: 409,
    exitCode: 68,
    summary: "the secondary volume's tracks differ in number or size from the primary's",
  },
  PAIR_SUSPENDED: {
    httpStatus: 503,
    exitCode: 69,
    summary: "a critical pair is suspended, so its primary refuses host writes",
  },
  // Global snap copy and its jobs.
  GSC_REQUEST_MALFORMED: {
    httpStatus: 400,
    exitCode: 70,
    summary: "a GSC request is not \"P, P', S[, S']\" (or the flags that say the same)",
  },
  GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE: {
    httpStatus: 400,
    exitCode: 71,
    summary: "a GSC names a target extent but no target intermediate S'",
  },
  GSC_INTERMEDIATE_TOO_SMALL: {
    httpStatus: 409,
    exitCode: 72,
    summary: "an intermediate volume (P' or S') cannot hold the copied tracks at their addresses",
  },
  GSC_VOLUME_BUSY: {
    httpStatus: 409,
    exitCode: 73,
    summary: "a volume of the GSC is in a pair or in another job",
  },
  GSC_TRANSFER_FAILED: {
    httpStatus: 502,
    exitCode: 74,
    summary: "a GSC's copy to the target failed (the link or the path went down)",
  },
  GSC_TARGET_ERROR: {
    httpStatus: 502,
    exitCode: 75,
    summary: "the target system refused or failed a step of the GSC",
  },
  GSC_VERIFY_MISMATCH: {
    httpStatus: 500,
    exitCode: 76,
    summary: "the target's tracks after a GSC differ from the source's",
  },
  GSC_CANCELLED: { httpStatus: 409, exitCode: 77, summary: "the GSC job was cancelled" },
  JOB_NOT_FOUND: { httpStatus: 404, exitCode: 78, summary: "no job with that id" },
  JOB_STATE_INVALID: {
    httpStatus: 409,
    exitCode: 79,
    summary: "the job's state does not allow this (cancel of a finished job)",
  },
  OBJECT_STORE_UNAVAILABLE: {
    httpStatus: 503,
    exitCode: 80,
    summary:
      "the object store holding the chunks cannot be reached or keeps failing (after retries)",
  },
  OBJECT_STORE_REFUSED: {
    httpStatus: 502,
    exitCode: 81,
    summary: "the object store refused a request: wrong credentials, or no such bucket",
  },
  OBJECT_STORE_IN_USE: {
    httpStatus: 409,
    exitCode: 82,
    summary: "the bucket and prefix hold another store's chunks",
  },
  CHUNKS_ELSEWHERE: {
    httpStatus: 409,
    exitCode: 83,
    summary: "the store keeps its chunks elsewhere than asked (local, or another bucket or prefix)",
  },
  PATH_FAILED: {
    httpStatus: 502,
    exitCode: 84,
    summary:
      "no link of a new path came up: each link's reason is in the message; the path was not kept",
  },
  CONNECTION_LIMIT: {
    httpStatus: 503,
    exitCode: 85,
    summary:
      "the server holds as many connections as it takes (from this address, or in all); retry later",
  },
  GSC_INTERMEDIATE_LOST: {
    httpStatus: 409,
    exitCode: 86,
    summary:
      "a GSC job could not resume after a restart: its source intermediate (P') holding the snap is gone",
  },
  PEER_FORBIDDEN: {
    httpStatus: 403,
    exitCode: 87,
    summary: "a peer asked about another storage system's job or volume",
  },
  RESERVATION_NOT_FOUND: {
    httpStatus: 404,
    exitCode: 88,
    summary: "no GSC job holds a reservation of that volume here",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
