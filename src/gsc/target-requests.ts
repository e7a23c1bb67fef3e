// The target side of GSC (DESIGN.md §3, steps 600-620): answers the CONTROL requests the source
// system sends. It reserves the target volume (or extent) and the target intermediate for a job,
// creating and later deleting an intermediate the source asked it to allocate (616); snaps the
// intermediate into the target extent in one step (618); tells stored checksums, so the source
// sends only tracks that differ and can verify what arrived; flushes; and releases everything of a
// job (612, 614). Reservations are kept by reservations.ts and survive a restart.
//
// A peer may snap into, read checksums of, and release only what its own jobs reserved; a request
// naming another system's job, or a volume another system's job holds, is refused (PEER_FORBIDDEN)
// and logged. Reservations expire after a time without a request of their job, and an
// administrator may list and release them (API /v1/reservations).

import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { type Extent, extentListsOverlap, parseExtentList } from "../geometry/address.js";
import { parseVolumeExtents } from "../geometry/volume-extents.js";
import { type ControlFrame, NackReason } from "../link/frame-types.js";
import { type LinkLogger, silentLinkLogger } from "../link/link-logger.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { PeerReply, PeerRequest } from "../pprc/serve-link-requests.js";
import type { Store } from "../store/store.js";
import type { JobRef } from "../store/volume-record.js";
import {
  type ChecksumsRequest,
  encodeChecksums,
  parseControl,
  type RemoteVolumeInfo,
  type ReserveRequest,
  type SnapRequestBody,
} from "./control-body.js";
import { checksumList } from "./copy-runs.js";
import { freeVolser } from "./free-volser.js";
import type { ReservationTable } from "./reservation-table.js";
import type { GivenBack, Reservations } from "./reservations.js";

export { RESERVATION_FILE_NAME } from "./reservations.js";

export interface GscTargetOptions {
  readonly store: Store;
  readonly pairs: PairManager;
  readonly reservations: Reservations;
  /** This system's subsystems: RESERVE creates volumes in these only. */
  readonly ssids: readonly string[];
  readonly logger?: LinkLogger;
}

export class GscTarget {
  private readonly logger: LinkLogger;

  constructor(private readonly options: GscTargetOptions) {
    this.logger = options.logger ?? silentLinkLogger;
  }

  private get table(): ReservationTable {
    return this.options.reservations.current;
  }

  /** Whether a job of any peer holds the volume; the source side checks its own jobs itself. */
  reservedBy(volser: string): string[] {
    return this.table.onVolume(volser).map((r) => r.job);
  }

  /** The job of `peer` that holds the volume here, if one does (the job whose copy it takes). */
  jobOf(volser: string, peer: string): JobRef | undefined {
    const held = this.table.onVolume(volser).find((r) => r.peer === peer);
    return held === undefined ? undefined : { id: held.job, serial: peer };
  }

  /**
   * Looks at a pair or track request before the pairs do: it keeps alive the reservations its
   * volume's jobs hold (a long copy asks nothing else), and a PAIR_OPEN onto a volume another
   * system's job holds is refused (busy) and logged. Undefined: the pairs may answer it.
   */
  screen(request: PeerRequest, peer: string): PeerReply | undefined {
    const volser = volserOf(request);
    if (volser === undefined) return undefined;
    this.table.touchVolume(volser, peer, Date.now());
    if (request.type !== "PAIR_OPEN") return undefined;
    const other = this.table.onVolume(volser).find((r) => r.peer !== peer);
    if (other === undefined) return undefined;
    this.logger.warn(
      { peerSerial: peer, volser, holder: other.peer, job: other.job },
      "refused PAIR_OPEN: another system's job holds the volume",
    );
    return { type: "NACK", reason: NackReason.BUSY };
  }

  /** Answers one CONTROL request with a RESULT; never throws. */
  handle(frame: ControlFrame, peerSerial: string): Promise<PeerReply> {
    const run = this.options.reservations.exclusive(() => this.answer(frame, peerSerial));
    return run.then(
      (result): PeerReply => ({ type: "RESULT", body: JSON.stringify({ ok: true, ...result }) }),
      (error: unknown): PeerReply => {
        const known = isGsnapError(error);
        if (known && error.code === "PEER_FORBIDDEN") {
          this.logger.warn({ peerSerial, code: error.code }, error.message);
        } else if (known) {
          this.logger.info({ peerSerial, code: error.code }, error.message);
        }
        return {
          type: "RESULT",
          body: JSON.stringify({
            ok: false,
            code: known ? error.code : "INTERNAL",
            message: known ? error.message : "Cannot answer: internal error on the target",
          }),
        };
      },
    );
  }

  private async answer(frame: ControlFrame, peer: string): Promise<Record<string, unknown>> {
    const request = parseControl(frame.op, frame.body);
    if (request.op !== "VOLUME_INFO" && request.op !== "FLUSH") {
      checkOwnJob(request.op, request.body, peer);
      this.table.touch({ peer, job: request.body.job }, Date.now());
    }
    switch (request.op) {
      case "VOLUME_INFO":
        return { volume: this.info(request.body.volser) };
      case "RESERVE":
        return { volser: await this.reserve(request.body, peer) };
      case "RELEASE":
        return { ...(await this.release(request.body.job, peer)) };
      case "SNAP":
        return { tracks: await this.snap(request.body, peer) };
      case "CHECKSUMS":
        return { checksums: encodeChecksums(await this.checksums(request.body, peer)) };
      case "FLUSH":
        await this.options.store.flush();
        return {};
    }
  }

  private info(volser: string): RemoteVolumeInfo {
    const volume = this.options.store.showVolume(volser);
    const pairs = this.options.pairs;
    return {
      volser,
      ssid: volume.ssid,
      model: volume.model,
      cylinders: volume.cylinders,
      trackCount: volume.trackCount,
      trackSizeBytes: volume.trackSizeBytes,
      pairRole: pairs.isPaired(volser)
        ? pairs.isSecondary(volser)
          ? "secondary"
          : "primary"
        : null,
      reservedBy: this.reservedBy(volser),
    };
  }

  private async reserve(request: ReserveRequest, peer: string): Promise<string> {
    const { store } = this.options;
    const what = `Cannot reserve ${request.volser ?? "a new volume"} for job ${request.job}`;
    if (!this.options.ssids.includes(request.ssid)) {
      throw new GsnapError(
        "SSID_INVALID",
        `${what}: subsystem ${request.ssid} is not on this system (its subsystems: ${this.options.ssids.join(", ")})`,
      );
    }
    let volser = request.volser;
    // A job that resumes after a restart asks again for what it may hold already: it gets it.
    const held = this.table
      .ofJob({ peer, job: request.job })
      .find(
        (r) =>
          r.created === (request.create !== undefined) &&
          (request.create !== undefined
            ? volser === undefined || r.volser === volser
            : r.volser === volser && r.extents === request.extents),
      );
    if (held !== undefined && store.listVolumes().some((v) => v.volser === held.volser)) {
      return held.volser;
    }
    if (held !== undefined && request.create !== undefined) {
      // Reserved, and the target stopped before it made the volume: make it now.
      volser = held.volser;
      await this.options.reservations.drop([held]);
    }
    if (request.create !== undefined) {
      volser ??= freeVolser(this.options.store, { prefix: "#T" });
      // Kept before the volume exists, so that a crash in between leaves nothing unreleased.
      const reservations = this.options.reservations;
      const reservation = await reservations.add({ job: request.job, peer, volser, created: true });
      try {
        await store.createVolume({
          volser,
          ssid: request.ssid,
          cylinders: request.create.cylinders,
          trackSizeBytes: request.create.trackSizeBytes,
          job: { id: request.job, serial: peer },
        });
      } catch (error) {
        await reservations.drop([reservation]);
        throw error;
      }
      return volser;
    }
    if (volser === undefined) throw new GsnapError("REQUEST_INVALID", `${what}: no volume named`);
    const volume = store.showVolume(volser);
    if (volume.ssid !== request.ssid) {
      throw new GsnapError("VOLUME_NOT_FOUND", `${what}: it is not in subsystem ${request.ssid}`);
    }
    if (this.options.pairs.isPaired(volser)) {
      throw new GsnapError("GSC_VOLUME_BUSY", `${what}: it is in a pair`);
    }
    const wanted = this.extentsOf(volser, request.extents);
    const clash = this.table
      .all()
      .find(
        (r) =>
          r.volser === volser &&
          (r.job !== request.job || r.peer !== peer) &&
          extentListsOverlap(this.extentsOf(r.volser, r.extents), wanted),
      );
    if (clash !== undefined) {
      throw new GsnapError(
        "GSC_VOLUME_BUSY",
        `${what}: job ${clash.job} of system ${clash.peer} holds ${volser}${clash.extents ? `:${clash.extents}` : ""}`,
      );
    }
    await this.options.reservations.add({
      job: request.job,
      peer,
      volser,
      extents: request.extents,
      created: false,
    });
    return volser;
  }

  /** Gives back what the job held: the volumes deleted, and those it left part old, part new. */
  private release(job: string, peer: string): Promise<GivenBack> {
    return this.options.reservations.giveBack(this.table.ofJob({ peer, job }));
  }

  private async snap(request: SnapRequestBody, peer: string): Promise<number> {
    const source = parseVolumeExtents(request.source);
    const target = parseVolumeExtents(request.target);
    this.checkHeld(request.job, peer, source.volser);
    this.checkHeld(request.job, peer, target.volser);
    if (source.extents === undefined) {
      throw new GsnapError("REQUEST_INVALID", `Cannot snap ${request.source}: it names no extents`);
    }
    // The intermediate was a pair's secondary until the job terminated the pair (522 comes
    // after 518 only when the pair is gone); the target extent must not be in a pair.
    if (this.options.pairs.isPaired(target.volser)) {
      throw new GsnapError("GSC_VOLUME_BUSY", `Cannot snap into ${target.volser}: it is in a pair`);
    }
    const { tracks } = await this.options.store.snap({
      source: { volser: source.volser, extents: source.extents },
      target,
    });
    return tracks;
  }

  /** One checksum list of every run asked for, in the order asked. */
  private async checksums(request: ChecksumsRequest, peer: string): Promise<Buffer> {
    this.checkHeld(request.job, peer, request.volser);
    const { store } = this.options;
    const lists = await Promise.all(
      request.runs.map((run) => store.trackChecksums(request.volser, run)),
    );
    return checksumList(lists.flat());
  }

  private checkHeld(job: string, peer: string, volser: string): void {
    const holders = this.table.onVolume(volser);
    if (holders.some((r) => r.job === job && r.peer === peer)) return;
    if (holders.some((r) => r.peer !== peer)) {
      throw new GsnapError(
        "PEER_FORBIDDEN",
        `Cannot use ${volser} for job ${job} of system ${peer}: another system's job holds it`,
      );
    }
    throw new GsnapError(
      "GSC_VOLUME_BUSY",
      `Cannot use ${volser} for job ${job}: the job holds no reservation of it here`,
    );
  }

  private extentsOf(volser: string, extents: string | undefined): Extent[] {
    if (extents !== undefined) return parseExtentList(extents);
    return [{ firstTrack: 0, lastTrack: this.options.store.showVolume(volser).trackCount - 1 }];
  }
}

/**
 * A request naming a job's system (`serial`, sent by sources since reservations became per peer)
 * must name the peer's own: a job id means something only with its system, and a peer acts as no
 * other. Older sources send no serial; their jobs are the peer's by the handshake.
 */
function checkOwnJob(op: string, body: { job: string; serial?: string }, peer: string): void {
  if (body.serial === undefined || body.serial === peer) return;
  throw new GsnapError(
    "PEER_FORBIDDEN",
    `Cannot take ${op} for job ${body.job} of system ${body.serial}: the link is from system ${peer}`,
  );
}

/** The volume of this system a pair or track request is about. */
function volserOf(request: PeerRequest): string | undefined {
  switch (request.type) {
    case "PAIR_OPEN":
    case "PAIR_STATE":
      return request.secondaryVolser;
    case "CONTROL":
      return undefined;
    default:
      return request.volser;
  }
}
