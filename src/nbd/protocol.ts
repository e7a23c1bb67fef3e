// The numbers of the NBD protocol that gsnap speaks (NetworkBlockDevice/nbd doc/proto.md), and the
// limits we put on what a client may send. Byte layouts are drawn in handshake-codec.ts and
// transmission-codec.ts and written down in docs/nbd.md.

/** "NBDMAGIC": the first 8 bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": the newstyle magic, sent by the server and at the head of every option. */
export const OPTION_MAGIC = 0x49484156454f5054n;
/** Heads every option reply. */
export const OPTION_REPLY_MAGIC = 0x0003e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags (16 bits, server to client). */
export const HandshakeFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;

/** Client flags (32 bits, client to server); any other bit closes the connection. */
export const ClientFlag = { FIXED_NEWSTYLE: 1 << 0, NO_ZEROES: 1 << 1 } as const;
export const KNOWN_CLIENT_FLAGS = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES;

/** Option types (32 bits). */
export const Option = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

/** Option reply types (32 bits); errors have bit 31 set. */
export const OptionReply = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: 0x80000001,
  ERR_POLICY: 0x80000002,
  ERR_INVALID: 0x80000003,
  ERR_PLATFORM: 0x80000004,
  ERR_TLS_REQD: 0x80000005,
  ERR_UNKNOWN: 0x80000006,
  ERR_SHUTDOWN: 0x80000007,
  ERR_BLOCK_SIZE_REQD: 0x80000008,
  ERR_TOO_BIG: 0x80000009,
} as const;

/** Information types of NBD_OPT_INFO and NBD_OPT_GO (16 bits). */
export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission flags (16 bits), sent with the export's size. */
export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Command types (16 bits). */
export const Command = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;

/** Command flags (16 bits). */
export const CommandFlag = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
} as const;

/** Structured reply flags (16 bits). */
export const ReplyFlag = { DONE: 1 << 0 } as const;

/** Structured reply chunk types (16 bits); error chunks have bit 15 set. */
export const ReplyType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;

/** Status flags of the base:allocation metadata context. */
export const AllocationState = { HOLE: 1 << 0, ZERO: 1 << 1 } as const;

/** The one metadata context we offer. */
export const BASE_ALLOCATION = "base:allocation";
/** Its id in NBD_REP_META_CONTEXT and NBD_REPLY_TYPE_BLOCK_STATUS; any value works, 0 is avoided. */
export const BASE_ALLOCATION_ID = 1;

// Limits.

/**
 * The largest READ or WRITE payload: 32 MiB, the size the protocol says no client should exceed
 * for portability (qemu and libnbd never send more), so refusing larger costs no client anything.
 * A WRITE that claims more closes the connection, since skipping that many bytes could take
 * gigabytes; a READ asking for more gets EINVAL.
 */
export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;

/** NBD_INFO_BLOCK_SIZE minimum: the store does read-modify-write, so any byte is addressable. */
export const MIN_BLOCK_BYTES = 1;

/** NBD_INFO_BLOCK_SIZE preferred: 4 KiB, a divisor of every track size (tracks are 4 KiB multiples). */
export const PREFERRED_BLOCK_BYTES = 4096;

/** The protocol's limit on any string: export names, queries, error messages. */
export const MAX_STRING_BYTES = 4096;

/**
 * The largest option payload we read: room for an export name and a few meta context queries at
 * the 4 KiB string limit, while bounding what one handshake can make us buffer.
 */
export const MAX_OPTION_BYTES = 64 * 1024;

/** Meta context queries in one option: each costs a string; real clients send one or two. */
export const MAX_META_CONTEXT_QUERIES = 64;

/**
 * Block status descriptors in one reply: 64 Ki descriptors are a 512 KiB reply, enough for a
 * 4 GiB request of alternating tracks to come back in a few replies; the protocol lets the server
 * answer a shorter range and clients ask again for the rest.
 */
export const MAX_BLOCK_STATUS_EXTENTS = 65_536;

/** "NBD_OPT_GO" for 7: option names for messages and logs. */
export function optionName(option: number): string {
  const entry = Object.entries(Option).find(([, value]) => value === option);
  return entry === undefined ? `option ${option}` : `NBD_OPT_${entry[0]}`;
}
