// Sends tracks of a source volume to a target volume on a peer over a path's connections: the
// copy engine of pairs and GSC (DESIGN.md §2). Tracks go in order, many in flight, spread over
// every connection (each connection's window bounds its share). A track the target received
// damaged (NACK, checksum mismatch) is sent again, a bounded number of times. When a connection
// fails, the tracks it had not had acknowledged go back to the queue and the other connections
// take them, so no track is lost; when every connection has failed, the copy fails with LINK_DOWN.
//
// A track moved to another connection may have been stored on the target already (its ACK was
// lost with the connection): storing it twice is harmless, because it carries the same bytes.

import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { checkVolser } from "../geometry/names.js";
import { NackReason, type ReplyFrame } from "../link/frame-types.js";
import {
  type LinkConnection,
  MAX_BYTES_IN_FLIGHT,
  MAX_FRAMES_IN_FLIGHT,
  type RequestBody,
} from "../link/link-connection.js";
import type { Store } from "../store/store.js";
import { RateLimiter } from "./rate-limiter.js";
import { type OutgoingTrack, TrackFeed, type TrackSource } from "./track-feed.js";

/**
 * How often one track is sent again on one connection after the target found it damaged. Links
 * damage frames rarely (TCP has its own checksum); a track damaged 4 times in a row points at a
 * broken link or peer, and trying forever would hide it.
 */
export const MAX_CHECKSUM_RESENDS = 3;

/** What the sender needs of a connection; LinkConnection is one, tests wrap one. */
export type TrackLink = Pick<LinkConnection, "request" | "isClosed">;

export interface SendTracksOptions {
  readonly store: Store;
  readonly sourceVolser: string;
  readonly targetVolser: string;
  /** Which tracks to send: rangeSource(ranges) for fixed ranges. */
  readonly source: TrackSource;
  readonly connections: readonly TrackLink[];
  readonly onProgress?: (progress: SendProgress) => void;
  /** Called once for each track the target acknowledged, with its data bytes (0: zero record). */
  readonly onAcknowledged?: (trackNumber: number, bytes: number) => void;
  /** Aborting stops taking tracks; the send then fails with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Caps the track bytes sent per second (GSC --bandwidth); undefined: no cap. */
  readonly bytesPerSecond?: number;
}

export interface SendResult {
  /** Tracks the target acknowledged, data and zero records alike; each counts once. */
  readonly tracksSent: number;
  /** Bytes of the acknowledged data tracks, each counted once. */
  readonly bytesSent: number;
  /** Tracks that went as zero records. */
  readonly zeroTracks: number;
  /** Sends repeated: after a checksum NACK, or on another connection after one failed. */
  readonly resent: number;
}

export interface SendProgress extends SendResult {
  readonly tracksTotal: number;
}

export async function sendTracks(options: SendTracksOptions): Promise<SendResult> {
  checkVolser(options.targetVolser);
  const feed = new TrackFeed(options.store, {
    volser: options.sourceVolser,
    source: options.source,
  });
  return new TrackSend(feed, options).run();
}

type Delivery = "acknowledged" | "link-failed" | "refused";

class TrackSend {
  private readonly totals = { tracksSent: 0, bytesSent: 0, zeroTracks: 0, resent: 0 };
  /** Tracks whose connection failed before they were acknowledged. */
  private readonly returned: OutgoingTrack[] = [];
  /** Tracks taken from the feed or `returned` and not yet acknowledged or returned. */
  private taken = 0;
  private waiters: (() => void)[] = [];
  private failure: unknown;
  private lastLinkError: unknown;
  private readonly limiter: RateLimiter | undefined;
  /** Ends the lanes' waits for the bandwidth cap; one abort listener however many wait. */
  private readonly pauses = new Set<() => void>();

  constructor(
    private readonly feed: TrackFeed,
    private readonly options: SendTracksOptions,
  ) {
    const rate = options.bytesPerSecond;
    this.limiter = rate === undefined ? undefined : new RateLimiter(rate);
  }

  async run(): Promise<SendResult> {
    this.options.signal?.addEventListener(
      "abort",
      () => {
        this.wake();
        for (const end of this.pauses) end();
      },
      { once: true },
    );
    const lanes: Promise<void>[] = [];
    // One lane per track the window lets fly; each lane holds its track while it waits, so the
    // byte window bounds them too (a few 1 MiB tracks, hundreds of 56 KiB ones).
    const perConnection = Math.min(
      MAX_FRAMES_IN_FLIGHT,
      Math.ceil(MAX_BYTES_IN_FLIGHT / this.feed.trackSizeBytes) + 1,
    );
    // Lanes start taking tracks as they are made: made in turn over the connections, so that
    // each connection gets its share from the first track on.
    for (let i = 0; i < perConnection; i += 1) {
      for (const connection of this.options.connections) lanes.push(this.lane(connection));
    }
    await Promise.all(lanes);
    if (this.failure !== undefined) throw this.failure;
    const total = this.feed.tracksTotal;
    if (this.totals.tracksSent < total) {
      throw new GsnapError(
        "LINK_DOWN",
        `Cannot send tracks of volume "${this.options.sourceVolser}" to ` +
          `"${this.options.targetVolser}": every connection failed after ` +
          `${this.totals.tracksSent} of ${total} tracks`,
        { cause: this.lastLinkError },
      );
    }
    return { ...this.totals };
  }

  private async lane(connection: TrackLink): Promise<void> {
    while (true) {
      const track = await this.take(connection);
      if (track === undefined) return;
      const delivery = await this.deliver(connection, track);
      this.taken -= 1;
      if (delivery === "link-failed") this.returned.push(track);
      this.wake();
      if (delivery !== "acknowledged") return;
    }
  }

  /** The next track for a lane, or undefined when the lane is done. */
  private async take(connection: TrackLink): Promise<OutgoingTrack | undefined> {
    const signal = this.options.signal;
    while (this.failure === undefined && !connection.isClosed) {
      if (signal?.aborted) {
        this.failure = signal.reason;
        this.wake();
        return undefined;
      }
      const returned = this.returned.shift();
      if (returned !== undefined) {
        this.totals.resent += 1;
        this.taken += 1;
        return returned;
      }
      if (!this.feed.done) {
        // Counted before the read, so that idle lanes know more work may still come.
        this.taken += 1;
        const track = await this.nextFromFeed();
        if (track !== undefined) return track;
        this.taken -= 1;
        this.wake();
        continue;
      }
      // Tracks in flight elsewhere may yet come back from a failed connection.
      if (this.taken === 0) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return undefined;
  }

  private async nextFromFeed(): Promise<OutgoingTrack | undefined> {
    try {
      return await this.feed.next();
    } catch (error) {
      this.failure ??= error;
      return undefined;
    }
  }

  private async deliver(connection: TrackLink, track: OutgoingTrack): Promise<Delivery> {
    if (this.limiter !== undefined && track.kind === "data") {
      const waitMs = this.limiter.take(track.data.length, performance.now());
      if (waitMs > 0 && !(await this.pause(waitMs))) return "refused";
    }
    let sent: SentTrack;
    try {
      sent = await sendTrack(connection, this.options.targetVolser, track);
    } catch (error) {
      if (!isGsnapError(error)) throw error;
      this.lastLinkError = error;
      return "link-failed";
    }
    this.totals.resent += sent.resends;
    if (sent.reply.type === "ACK") {
      this.acknowledge(track);
      return "acknowledged";
    }
    this.failure ??= trackRefusal(
      { source: this.options.sourceVolser, target: this.options.targetVolser, track },
      sent,
    );
    return "refused";
  }

  /**
   * Waits out the bandwidth cap; false when the send was aborted meanwhile. Hundreds of lanes may
   * each wait seconds for their turn under a low cap: an abort (pair stop, job cancel) must not
   * wait for them.
   */
  private async pause(waitMs: number): Promise<boolean> {
    await new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.pauses.delete(end);
        resolve();
      };
      const timer = setTimeout(end, waitMs);
      this.pauses.add(end);
    });
    const signal = this.options.signal;
    if (signal?.aborted !== true) return true;
    this.failure ??= signal.reason;
    return false;
  }

  private acknowledge(track: OutgoingTrack): void {
    this.options.onAcknowledged?.(track.trackNumber, track.kind === "zero" ? 0 : track.data.length);
    this.totals.tracksSent += 1;
    if (track.kind === "zero") this.totals.zeroTracks += 1;
    else this.totals.bytesSent += track.data.length;
    this.options.onProgress?.({ ...this.totals, tracksTotal: this.feed.tracksTotal });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

export interface SentTrack {
  /** The last reply: ACK, or the NACK that ends the track's sending. */
  readonly reply: ReplyFrame;
  /** How often the track went again after a checksum NACK. */
  readonly resends: number;
}

/**
 * Sends one track on one connection, again after each checksum NACK (at most
 * MAX_CHECKSUM_RESENDS times). Rejects with LINK_DOWN when the connection fails.
 */
export async function sendTrack(
  connection: TrackLink,
  volser: string,
  track: OutgoingTrack,
): Promise<SentTrack> {
  const request: RequestBody =
    track.kind === "zero"
      ? { type: "TRACK_ZERO", volser, trackNumber: track.trackNumber }
      : {
          type: "TRACK_DATA",
          volser,
          trackNumber: track.trackNumber,
          checksum: track.checksum,
          data: track.data,
        };
  for (let resends = 0; ; resends += 1) {
    const reply = await connection.request(request);
    const damaged = reply.type === "NACK" && reply.reason === NackReason.CHECKSUM_MISMATCH;
    if (!damaged || resends === MAX_CHECKSUM_RESENDS) return { reply, resends };
  }
}

/** The typed error for a reply that ends a track's sending. */
export function trackRefusal(
  copy: { source: string; target: string; track: OutgoingTrack },
  sent: SentTrack,
): GsnapError {
  const { reply, resends } = sent;
  const what =
    `Cannot send track ${copy.track.trackNumber} of volume "${copy.source}" to ` +
    `"${copy.target}"`;
  if (reply.type !== "NACK") {
    return new GsnapError("LINK_PROTOCOL", `${what}: the target answered ${reply.type}`);
  }
  switch (reply.reason) {
    case NackReason.CHECKSUM_MISMATCH:
      return new GsnapError(
        "LINK_PROTOCOL",
        `${what}: it arrived damaged ${resends + 1} times in a row`,
      );
    case NackReason.VOLUME_NOT_FOUND:
      return new GsnapError("VOLUME_NOT_FOUND", `${what}: the target has no such volume`);
    case NackReason.TRACK_OUT_OF_RANGE:
      return new GsnapError("IO_OUT_OF_RANGE", `${what}: the track does not fit the target`);
    case NackReason.BUSY:
      // The target takes no tracks for this volume now: the closest code is a volume that
      // refuses writes.
      return new GsnapError("VOLUME_READ_ONLY", `${what}: the target is busy`);
    case NackReason.IO_ERROR:
      return new GsnapError("IO_ERROR", `${what}: the target could not store it`);
    case NackReason.NOT_PAIRED:
      return new GsnapError(
        "PAIR_NOT_FOUND",
        `${what}: the target volume is in no pair with this system`,
      );
    default:
      return new GsnapError("LINK_PROTOCOL", `${what}: NACK with unknown reason ${reply.reason}`);
  }
}
