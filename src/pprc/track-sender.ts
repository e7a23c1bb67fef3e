// Sends tracks of a source volume to a target volume on a peer over a path's connections: the
// copy engine of pairs and GSC (DESIGN.md §2). Tracks go in batches, in order, many in flight,
// spread over every connection (each connection's window bounds its share): one TRACK_BATCH
// request per batch where the peer speaks protocol version 2, one TRACK_DATA or TRACK_ZERO per
// track where it speaks 1. A track the target received damaged (checksum mismatch) is sent again
// alone, a bounded number of times. When a connection fails, the tracks it had not had
// acknowledged go back to the queue and the other connections take them, so no track is lost;
// when every connection has failed, the copy fails with LINK_DOWN.
//
// A track moved to another connection may have been stored on the target already (its ACK was
// lost with the connection): storing it twice is harmless, because it carries the same bytes.

import { GsnapError } from "../errors/gsnap-error.js";
import { checkVolser } from "../geometry/names.js";
import { MAX_BYTES_IN_FLIGHT, MAX_FRAMES_IN_FLIGHT } from "../link/link-connection.js";
import type { Store } from "../store/store.js";
import { RateLimiter } from "./rate-limiter.js";
import {
  type OutgoingBatch,
  type OutgoingTrack,
  TrackFeed,
  type TrackSource,
} from "./track-feed.js";
import { sendWork, type TrackLink, trackRefusal } from "./track-requests.js";

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

/** A batch read from the feed, with its tracks not yet acknowledged: at zero its slab goes back. */
interface Lease {
  readonly batch: OutgoingBatch;
  left: number;
}

/**
 * Tracks of one batch that a lane sends together (a whole batch on a connection that carries
 * batches, one track on one that does not); what is not acknowledged may go back.
 */
interface Work {
  readonly tracks: readonly OutgoingTrack[];
  readonly lease: Lease;
}

/** How a lane's send of its work ended: the tracks not acknowledged, and why. */
type Delivery =
  | { readonly outcome: "acknowledged" }
  | { readonly outcome: "link-failed"; readonly left: readonly OutgoingTrack[] }
  | { readonly outcome: "refused" };

class TrackSend {
  private readonly totals = { tracksSent: 0, bytesSent: 0, zeroTracks: 0, resent: 0 };
  /**
   * Work to send before the feed's next batch: what a connection failed to have acknowledged
   * (`resent` counts it) and the rest of batches split into single tracks.
   */
  private readonly ready: { work: Work; returned: boolean }[] = [];
  /** Work taken from the feed or `returned` and not yet acknowledged or returned. */
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
    // One lane per request the window lets fly (a batch, or a track where the connection carries
    // no batches); each lane holds its work while it waits, so the byte window bounds them too.
    const laneCount = (connection: TrackLink) => {
      const workBytes =
        this.feed.trackSizeBytes * (connection.carriesBatches === true ? this.feed.batchTracks : 1);
      return Math.min(MAX_FRAMES_IN_FLIGHT, Math.ceil(MAX_BYTES_IN_FLIGHT / workBytes) + 1);
    };
    const counts = this.options.connections.map(laneCount);
    // Lanes start taking work as it is read: in turn over the connections, so that each
    // connection gets its share from the first batch on.
    for (let i = 0; i < Math.max(0, ...counts); i += 1) {
      this.options.connections.forEach((connection, index) => {
        if (i < counts[index]) lanes.push(this.lane(connection));
      });
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
      const work = await this.take(connection);
      if (work === undefined) return;
      const delivery = await this.deliver(connection, work);
      this.taken -= 1;
      if (delivery.outcome === "link-failed") {
        this.ready.push({ work: { tracks: delivery.left, lease: work.lease }, returned: true });
      }
      this.wake();
      if (delivery.outcome !== "acknowledged") return;
    }
  }

  /** The next work for a lane, or undefined when the lane is done. */
  private async take(connection: TrackLink): Promise<Work | undefined> {
    const signal = this.options.signal;
    while (this.failure === undefined && !connection.isClosed) {
      if (signal?.aborted) {
        this.failure = signal.reason;
        this.wake();
        return undefined;
      }
      const ready = this.ready.shift();
      if (ready !== undefined) {
        if (ready.returned) this.totals.resent += ready.work.tracks.length;
        this.taken += 1;
        return this.fit(connection, ready.work);
      }
      if (!this.feed.done) {
        // Counted before the read, so that idle lanes know more work may still come.
        this.taken += 1;
        const batch = await this.nextFromFeed();
        if (batch !== undefined) {
          const lease = { batch, left: batch.tracks.length };
          if (lease.left === 0) batch.release();
          else return this.fit(connection, { tracks: batch.tracks, lease });
        }
        this.taken -= 1;
        this.wake();
        continue;
      }
      // Work in flight elsewhere may yet come back from a failed connection.
      if (this.taken === 0) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return undefined;
  }

  /**
   * The work as the connection takes it: whole where it carries batches, else its first track,
   * the rest ready for the next lane (not counted as resent).
   */
  private fit(connection: TrackLink, work: Work): Work {
    if (connection.carriesBatches === true || work.tracks.length === 1) return work;
    this.ready.unshift({
      work: { tracks: work.tracks.slice(1), lease: work.lease },
      returned: false,
    });
    this.wake();
    return { tracks: work.tracks.slice(0, 1), lease: work.lease };
  }

  private async nextFromFeed(): Promise<OutgoingBatch | undefined> {
    try {
      return await this.feed.next();
    } catch (error) {
      this.failure ??= error;
      return undefined;
    }
  }

  private async deliver(connection: TrackLink, work: Work): Promise<Delivery> {
    if (this.limiter !== undefined) {
      let bytes = 0;
      for (const track of work.tracks) if (track.kind === "data") bytes += track.data.length;
      const waitMs = bytes === 0 ? 0 : this.limiter.take(bytes, performance.now());
      if (waitMs > 0 && !(await this.pause(waitMs))) return { outcome: "refused" };
    }
    const target = this.options.targetVolser;
    const sent = await sendWork(connection, target, work.tracks);
    this.totals.resent += sent.resends;
    for (const track of sent.acknowledged) this.acknowledge(track);
    work.lease.left -= sent.acknowledged.length;
    if (work.lease.left === 0) work.lease.batch.release();
    if (sent.refused !== undefined) {
      this.failure ??= trackRefusal(
        { source: this.options.sourceVolser, target, track: sent.refused.track },
        sent.refused.sent,
      );
      return { outcome: "refused" };
    }
    if (sent.left.length > 0) {
      this.lastLinkError = sent.linkError;
      return { outcome: "link-failed", left: sent.left };
    }
    return { outcome: "acknowledged" };
  }

  /**
   * Waits out the bandwidth cap; false when the send was aborted meanwhile. Dozens of lanes may
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
