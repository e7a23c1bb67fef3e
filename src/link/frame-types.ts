// The words of the peer link protocol: frame types, reason codes, limits and the typed frames the
// codec turns into bytes and back. docs/link-protocol.md draws the byte layouts.

import { MAX_TRACK_SIZE_BYTES } from "../geometry/geometry.js";

/** "GSLK" in ASCII: a frame that does not start with it is not ours. */
export const FRAME_MAGIC = 0x47534c4b;

/**
 * The layout of the frame header itself. A peer that speaks another header layout cannot even
 * send HELLO, so this is checked by the codec; protocol versions are negotiated in HELLO.
 */
export const FRAME_FORMAT = 1;

/** magic u32, format u8, type u8, flags u16, request id u32, payload length u32. */
export const FRAME_HEADER_BYTES = 16;

/**
 * The largest payload of any frame but TRACK_BATCH: TRACK_DATA carries one track (at most
 * MAX_TRACK_SIZE_BYTES, 1 MiB, the largest track geometry allows) plus its fields (VOLSER length
 * and up to 6 bytes, track number, checksum: 19 bytes), rounded up to leave a little room.
 * Anything larger is a lie or an attack and closes the connection before a byte of it is buffered.
 */
export const MAX_PAYLOAD_BYTES = MAX_TRACK_SIZE_BYTES + 64;

/** The largest frame on the wire but TRACK_BATCH, header included. */
export const MAX_FRAME_BYTES = FRAME_HEADER_BYTES + MAX_PAYLOAD_BYTES;

/**
 * Track bytes one TRACK_BATCH carries at most. 4 MiB is 73 tracks of 3390 geometry: a frame, an
 * ACK, a checksum pass and a store change then cost per 73 tracks what they cost per track with
 * TRACK_DATA, and eight such frames still fit the 32 MiB window of a connection.
 */
export const MAX_BATCH_DATA_BYTES = 4 * 1024 * 1024;

/**
 * Tracks one TRACK_BATCH names at most. Zero records carry no bytes, so the byte bound alone would
 * let a batch name millions; 1,024 entries of 16 bytes keep its table at 16 KiB.
 */
export const MAX_BATCH_TRACKS = 1024;

/** A TRACK_BATCH entry: u32 track number, u32 data length (0: zero record), u64 checksum. */
export const BATCH_ENTRY_BYTES = 16;

/**
 * The bytes each block checksum of a TRACK_BATCH with BLOCK_SUMS covers: the store's checksum
 * blocks (store/checksum.ts), which the copy engine checks are the same.
 */
export const SUM_BLOCK_BYTES = 4096;

/** One block checksum: an xxHash32, u32 little-endian as the store keeps it. */
export const BLOCK_SUM_BYTES = 4;

/**
 * The largest block checksum section of a TRACK_BATCH: its xxHash32, then one checksum per 4 KiB
 * block of the largest data, plus one per track for a last block that is short.
 */
export const MAX_BATCH_SUMS_BYTES =
  4 + (MAX_BATCH_DATA_BYTES / SUM_BLOCK_BYTES + MAX_BATCH_TRACKS) * BLOCK_SUM_BYTES;

/** The largest TRACK_BATCH payload: VOLSER, count, a full table, block checksums, the data. */
export const MAX_BATCH_PAYLOAD_BYTES =
  1 + 6 + 2 + MAX_BATCH_TRACKS * BATCH_ENTRY_BYTES + MAX_BATCH_SUMS_BYTES + MAX_BATCH_DATA_BYTES;

/** The first protocol version that has TRACK_BATCH and BATCH_NACK. */
export const BATCH_VERSION = 2;

/** The first protocol version that has TRACK_PIECE. */
export const PIECE_VERSION = 3;

/** The first protocol version whose TRACK_BATCH may carry block checksums (BatchFlag.BLOCK_SUMS). */
export const SUMS_VERSION = 4;

/** Flags of a TRACK_BATCH header. */
export const BatchFlag = {
  /**
   * The batch carries each data track's block checksums, from the sender's chunk record: the
   * receiver stores them as they come instead of hashing every 4 KiB block a second time.
   */
  BLOCK_SUMS: 0x0001,
} as const;

/** TRACK_PIECE fields between its VOLSER and its data: track, offset, length, kind, checksum. */
export const PIECE_FIELDS_BYTES = 4 + 4 + 4 + 1 + 8;

/** What a TRACK_PIECE carries: the bytes of part of a track, or a range of it to zero. */
export const PieceKind = {
  DATA: 0,
  ZERO: 1,
} as const;

/** Nonces are 32 random bytes: as long as the HMAC-SHA256 key space, so guessing one is hopeless. */
export const NONCE_BYTES = 32;

/** HMAC-SHA256 output. */
export const PROOF_BYTES = 32;

/** A HELLO offers at most this many protocol versions: enough for years of overlap. */
export const MAX_VERSIONS_OFFERED = 16;

/** A HELLO names at most this many SSIDs: one storage system has at most 255 logical subsystems. */
export const MAX_SSIDS = 255;

/** A serial is 1 to 10 characters (DESIGN.md); the length byte allows no more. */
export const MAX_SERIAL_BYTES = 10;

/** A VOLSER is 1 to 6 characters. */
export const MAX_VOLSER_BYTES = 6;

/** A refusal's text is for a log line, not a document: longer text is refused by the codec. */
export const MAX_REASON_TEXT_BYTES = 1024;

/**
 * The flags a frame of any type but TRACK_BATCH may have: none. A frame with another bit set comes
 * from a newer peer that we refused.
 */
export const KNOWN_FLAGS = 0;

/** The flags a TRACK_BATCH may have. */
export const KNOWN_BATCH_FLAGS = BatchFlag.BLOCK_SUMS;

export const FrameType = {
  HELLO: 1,
  CHALLENGE: 2,
  PROOF: 3,
  WELCOME: 4,
  REFUSE: 5,
  TRACK_DATA: 16,
  TRACK_ZERO: 17,
  ACK: 18,
  NACK: 19,
  TRACK_BATCH: 20,
  BATCH_NACK: 21,
  TRACK_PIECE: 22,
  PING: 32,
  PONG: 33,
  PAIR_OPEN: 48,
  PAIR_STATE: 49,
  CONTROL: 64,
  RESULT: 65,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** Why a responder refused a connection (REFUSE), or why an initiator gave up. */
export const RefuseReason = {
  NO_COMMON_VERSION: 1,
  WRONG_SERIAL: 2,
  AUTH_FAILED: 3,
  PROTOCOL: 4,
} as const;
export type RefuseReasonCode = (typeof RefuseReason)[keyof typeof RefuseReason];

/** Why a receiver did not take a request (NACK). */
export const NackReason = {
  CHECKSUM_MISMATCH: 1,
  VOLUME_NOT_FOUND: 2,
  TRACK_OUT_OF_RANGE: 3,
  BUSY: 4,
  IO_ERROR: 5,
  /** PAIR_OPEN: the secondary volume is in a pair with another primary. */
  PAIR_EXISTS: 6,
  /** PAIR_OPEN: the secondary volume's track count or track size differs. */
  GEOMETRY_MISMATCH: 7,
  /** Tracks or PAIR_STATE for a volume that is in no pair with the sender. */
  NOT_PAIRED: 8,
} as const;
export type NackReasonCode = (typeof NackReason)[keyof typeof NackReason];

export interface HelloFrame {
  readonly type: "HELLO";
  readonly requestId: number;
  /** Protocol versions offered (initiator) or the one chosen (responder), each 1-255. */
  readonly versions: readonly number[];
  /** The sender's serial. */
  readonly serial: string;
  /** The serial the sender expects at the other end; empty when it has no expectation. */
  readonly expectSerial: string;
  /** The sender's SSIDs, 4 upper-case hex digits each. */
  readonly ssids: readonly string[];
}

export interface ChallengeFrame {
  readonly type: "CHALLENGE";
  readonly requestId: number;
  readonly nonce: Buffer;
}

export interface ProofFrame {
  readonly type: "PROOF";
  readonly requestId: number;
  readonly proof: Buffer;
}

export interface WelcomeFrame {
  readonly type: "WELCOME";
  readonly requestId: number;
  readonly version: number;
}

export interface RefuseFrame {
  readonly type: "REFUSE";
  readonly requestId: number;
  readonly reason: number;
  readonly text: string;
}

export interface TrackDataFrame {
  readonly type: "TRACK_DATA";
  readonly requestId: number;
  readonly volser: string;
  readonly trackNumber: number;
  readonly checksum: bigint;
  readonly data: Buffer;
}

export interface TrackZeroFrame {
  readonly type: "TRACK_ZERO";
  readonly requestId: number;
  readonly volser: string;
  readonly trackNumber: number;
}

/**
 * Part of one track (protocol version 3 on): a host write's bytes at an offset within the track,
 * or (data undefined) a range of the track to zero. The checksum is xxHash64 of the data (0 for a
 * zero piece). A sync pair's primary sends it instead of the whole track image, and the secondary
 * applies it as the same small write.
 */
export interface TrackPieceFrame {
  readonly type: "TRACK_PIECE";
  readonly requestId: number;
  readonly volser: string;
  readonly trackNumber: number;
  /** Where the piece starts within the track. */
  readonly offsetBytes: number;
  /** 1 to MAX_TRACK_SIZE_BYTES; offsetBytes + lengthBytes is at most MAX_TRACK_SIZE_BYTES. */
  readonly lengthBytes: number;
  readonly checksum: bigint;
  /** lengthBytes bytes, a view of the frame's payload when received; undefined: zero the range. */
  readonly data: Buffer | undefined;
}

/** One track of a TRACK_BATCH: its bytes, or a zero record (data undefined, checksum 0). */
export interface BatchTrack {
  readonly trackNumber: number;
  readonly checksum: bigint;
  /** A view of the frame's payload when received; undefined for a zero record. */
  readonly data: Buffer | undefined;
  /**
   * The xxHash32 of each 4 KiB block of `data` (u32 little-endian, the last block may be short),
   * from the sender's chunk record: only in a batch with BLOCK_SUMS, where every data track has
   * them. A view of the payload when received.
   */
  readonly blockSums?: Buffer;
}

/**
 * Many tracks of one volume in one request (protocol version 2 on), in strictly increasing track
 * order, answered by one ACK (all stored) or one BATCH_NACK (the tracks not stored, each with its
 * reason).
 */
export interface TrackBatchFrame {
  readonly type: "TRACK_BATCH";
  readonly requestId: number;
  readonly volser: string;
  readonly tracks: readonly BatchTrack[];
  /**
   * Set on a received batch whose block checksums do not match the xxHash32 they came with:
   * damaged on the way, so every data track of it is asked for again.
   */
  readonly sumsDamaged?: boolean;
}

/** A track of a batch that was not stored: its index in the batch and why. */
export interface BatchRefusal {
  readonly index: number;
  readonly reason: number;
}

/** The answer to a TRACK_BATCH some of whose tracks were not stored; the others were. */
export interface BatchNackFrame {
  readonly type: "BATCH_NACK";
  readonly requestId: number;
  /** In increasing index order, at least one. */
  readonly refusals: readonly BatchRefusal[];
}

export interface AckFrame {
  readonly type: "ACK";
  readonly requestId: number;
}

export interface NackFrame {
  readonly type: "NACK";
  readonly requestId: number;
  readonly reason: number;
}

export interface PingFrame {
  readonly type: "PING";
  readonly requestId: number;
}

export interface PongFrame {
  readonly type: "PONG";
  readonly requestId: number;
}

/** What a CONTROL request asks of the other system (GSC, DESIGN.md §3). */
export const ControlOp = {
  /** A volume's geometry, subsystem and whether it is free. */
  VOLUME_INFO: 1,
  /** Reserve a volume (or part of it) for a job, creating it when asked. */
  RESERVE: 2,
  /** Give back all a job reserved, deleting the volumes it created. */
  RELEASE: 3,
  /** Snap extents of one volume into another. */
  SNAP: 4,
  /** The stored checksums of a range of tracks. */
  CHECKSUMS: 5,
  /** Make every stored track durable. */
  FLUSH: 6,
} as const;
export type ControlOpName = keyof typeof ControlOp;

/** A CONTROL body or a RESULT is at most this long: a checksum list of 32,768 tracks in base64. */
export const MAX_CONTROL_BYTES = 512 * 1024;

/** A request for the other system to do something other than store a track; answered by RESULT. */
export interface ControlFrame {
  readonly type: "CONTROL";
  readonly requestId: number;
  readonly op: number;
  /** A JSON object, the op's arguments. */
  readonly body: string;
}

/** The answer to a CONTROL: a JSON object, `{"ok": true, ...}` or `{"ok": false, code, message}`. */
export interface ResultFrame {
  readonly type: "RESULT";
  readonly requestId: number;
  readonly body: string;
}

/** Pair modes on the wire. */
export const WirePairMode = { sync: 1, copy: 2 } as const;

/** Pair states on the wire; PAIR_STATE with simplex ends the pair. */
export const WirePairState = { simplex: 0, pending: 1, duplex: 2, suspended: 3 } as const;

/** Suspend reasons on the wire; 0 when the state is not suspended. */
export const WireSuspendReason = {
  none: 0,
  operator: 1,
  "link failure": 2,
  "secondary error": 3,
  "primary restart": 4,
} as const;

/** The primary asks the secondary to join a pair (or to rejoin it on resume). */
export interface PairOpenFrame {
  readonly type: "PAIR_OPEN";
  readonly requestId: number;
  readonly primarySsid: string;
  readonly primaryVolser: string;
  readonly secondarySsid: string;
  readonly secondaryVolser: string;
  readonly mode: number;
  readonly trackCount: number;
  readonly trackSizeBytes: number;
  /** PairOpenOption bits. */
  readonly options: number;
}

/** PAIR_OPEN options. */
export const PairOpenOption = {
  /** Rejoin a pair the secondary still has (resume); never create one. */
  RESUME: 1,
} as const;

/** The primary tells the secondary the pair's new state; simplex ends the pair. */
export interface PairStateFrame {
  readonly type: "PAIR_STATE";
  readonly requestId: number;
  readonly secondaryVolser: string;
  readonly state: number;
  readonly reason: number;
}

export type Frame =
  | HelloFrame
  | ChallengeFrame
  | ProofFrame
  | WelcomeFrame
  | RefuseFrame
  | TrackDataFrame
  | TrackZeroFrame
  | TrackBatchFrame
  | TrackPieceFrame
  | AckFrame
  | NackFrame
  | BatchNackFrame
  | PingFrame
  | PongFrame
  | PairOpenFrame
  | PairStateFrame
  | ControlFrame
  | ResultFrame;

export type HandshakeFrame = HelloFrame | ChallengeFrame | ProofFrame | WelcomeFrame | RefuseFrame;
/** Frames that ask for an answer after the handshake; each takes a slot of the request window. */
export type RequestFrame =
  | TrackDataFrame
  | TrackZeroFrame
  | TrackBatchFrame
  | TrackPieceFrame
  | PingFrame
  | PairOpenFrame
  | PairStateFrame
  | ControlFrame;
/** Frames that answer a request, naming its request id. */
export type ReplyFrame = AckFrame | NackFrame | BatchNackFrame | PongFrame | ResultFrame;

export function isRequestFrame(frame: Frame): frame is RequestFrame {
  return (
    frame.type === "TRACK_DATA" ||
    frame.type === "TRACK_ZERO" ||
    frame.type === "TRACK_BATCH" ||
    frame.type === "TRACK_PIECE" ||
    frame.type === "PING" ||
    frame.type === "PAIR_OPEN" ||
    frame.type === "PAIR_STATE" ||
    frame.type === "CONTROL"
  );
}

export function isReplyFrame(frame: Frame): frame is ReplyFrame {
  return (
    frame.type === "ACK" ||
    frame.type === "NACK" ||
    frame.type === "BATCH_NACK" ||
    frame.type === "PONG" ||
    frame.type === "RESULT"
  );
}

/** Why bytes could not be decoded into a frame; every one closes the connection. */
export type FrameFailureKind =
  | "bad-magic"
  | "bad-format"
  | "unknown-type"
  | "bad-flags"
  | "oversized"
  | "bad-length"
  | "bad-field";

export interface FrameFailure {
  readonly kind: FrameFailureKind;
  readonly message: string;
}
