// What the API needs of pairs: the PairManager, or a fake of it in tests. A pair joins a primary
// volume here to a secondary volume on another storage system (DESIGN.md §2).

import type { JobRef } from "../store/volume-record.js";

export type PairRole = "primary" | "secondary";
export type PairMode = "sync" | "copy";
/** `simplex` is no pair: a volume in no pair shows it, and a terminated pair ends in it. */
export type PairState = "simplex" | "pending" | "duplex" | "suspended";

/** Why a pair is suspended, in words an operator reads. */
export type SuspendReason =
  /** `gsnap pair suspend`. */
  | "operator"
  /** The secondary could not be reached, or did not answer a write in time. */
  | "link failure"
  /** The secondary answered but could not store a track (I/O error, volume gone, read-only). */
  | "secondary error"
  /** The primary stopped (a crash or a restart) while the pair was copying or duplex. */
  | "primary restart";

export interface PairInfo {
  /** The local volume. */
  readonly volser: string;
  readonly role: PairRole;
  /** The primary, SERIAL.SSID.VOLSER (this system's own serial on the primary). */
  readonly primary: string;
  /** The secondary, SERIAL.SSID.VOLSER. */
  readonly secondary: string;
  readonly mode: PairMode;
  /** Sync pairs only: when suspended, host writes to the primary fail instead of going on. */
  readonly critical: boolean;
  readonly state: PairState;
  /** Set when suspended. */
  readonly reason?: SuspendReason;
  /** When the pair entered its state (ISO 8601). */
  readonly since: string;
  readonly tracksTotal: number;
  /**
   * Tracks the secondary does not hold yet. The primary counts them; a secondary does not know
   * them and reports null.
   */
  readonly tracksOutOfSync: number | null;
  /**
   * The copy's work: the tracks out of sync when the pair last became pending, and every one
   * marked since. While pending, `tracksToCopy - tracksOutOfSync` of them are copied. Null on a
   * secondary, like `tracksOutOfSync`.
   */
  readonly tracksToCopy: number | null;
  /** Bytes of track data sent (primary) or stored (secondary) since the pair was established. */
  readonly bytesSent: number;
  /** Bytes per second over the last few seconds; 0 when idle. */
  readonly rateBytesPerSecond: number;
  /** Seconds until the copy is done at the current rate; null when idle or unknown. */
  readonly etaSeconds: number | null;
  /**
   * The GSC job whose copy the pair is, named by the primary's system, which runs it. Known on
   * the primary, and on the secondary when its volume is the job's S'.
   */
  readonly job?: JobRef;
}

export interface EstablishPairRequest {
  /** The local (primary) volume. */
  readonly volser: string;
  /** The secondary: SERIAL.SSID.VOLSER. */
  readonly secondary: string;
  readonly mode: PairMode;
  readonly critical?: boolean;
}

export interface PairService {
  /** Every pair this system is part of, primary or secondary, by VOLSER. */
  list(): PairInfo[];
  /** The pair of one local volume; PAIR_NOT_FOUND when it is in none. */
  show(volser: string): PairInfo;
  /**
   * Pairs a local volume with a remote one and starts the initial copy; answers as soon as the
   * secondary has agreed (state pending). Errors: VOLSER_INVALID, VOLUME_NOT_FOUND (here or
   * there), PAIR_EXISTS (here or there), PATH_NOT_FOUND, LINK_DOWN (the path is down),
   * PAIR_GEOMETRY_MISMATCH, REQUEST_INVALID (critical with mode copy).
   */
  establish(request: EstablishPairRequest): Promise<PairInfo>;
  /** Stops mirroring (reason operator); the primary records changes. Primary only. */
  suspend(volser: string): Promise<PairInfo>;
  /** Copies the out-of-sync tracks and returns to duplex. Primary only; a suspended pair. */
  resume(volser: string): Promise<PairInfo>;
  /**
   * Ends the pair here and, from the primary, tells the secondary (when it can be reached). On a
   * secondary it ends the secondary's record only: its volume takes host writes again.
   */
  terminate(volser: string): Promise<void>;
}
