// The target side of GSC (DESIGN.md §3, steps 600-620): answers the CONTROL requests the source
// system sends. It reserves the target volume (or extent) and the target intermediate for a job,
// creating and later deleting an intermediate the source asked it to allocate (616); snaps the
// intermediate into the target extent in one step (618); tells stored checksums, so the source
// sends only tracks that differ and can verify what arrived; flushes; and releases everything of a
// job (612, 614). Reservations survive a restart (DATA_DIR/gsc-reservations.json), so a job
// the source cleans up after a crash of either side still finds what it must give back.
//
// A peer may snap into, read checksums of, and release only what its own jobs reserved.

import path from "node:path";
import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { type Extent, extentListsOverlap, parseExtentList } from "../geometry/address.js";
import { parseVolumeExtents } from "../geometry/volume-extents.js";
import type { ControlFrame } from "../link/frame-types.js";
import { readJsonFile, writeJsonFile } from "../pprc/json-file.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { PeerReply } from "../pprc/serve-link-requests.js";
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

export const RESERVATION_FILE_NAME = "gsc-reservations.json";

interface Reservation {
  readonly job: string;
  /** The serial of the system whose job it is. */
  readonly peer: string;
  readonly volser: string;
  /** Absent: the whole volume. */
  readonly extents?: string;
  /** The target created it for the job, and deletes it at release. */
  readonly created: boolean;
}

export interface GscTargetOptions {
  readonly dataDir: string;
  readonly store: Store;
  readonly pairs: PairManager;
}

export class GscTarget {
  private reservations: Reservation[] = [];
  /** Changes one after another: each reads and writes the reservations whole. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly file: string;

  private constructor(private readonly options: GscTargetOptions) {
    this.file = path.join(options.dataDir, RESERVATION_FILE_NAME);
  }

  static async open(options: GscTargetOptions): Promise<GscTarget> {
    const target = new GscTarget(options);
    const kept = (await readJsonFile(target.file)) as { reservations?: Reservation[] } | undefined;
    target.reservations = kept?.reservations ?? [];
    return target;
  }

  /** Whether a job of any peer holds the volume; the source side checks its own jobs itself. */
  reservedBy(volser: string): string[] {
    return this.reservations.filter((r) => r.volser === volser).map((r) => r.job);
  }

  /** The job of `peer` that holds the volume here, if one does (the job whose copy it takes). */
  jobOf(volser: string, peer: string): JobRef | undefined {
    const held = this.reservations.find((r) => r.volser === volser && r.peer === peer);
    return held === undefined ? undefined : { id: held.job, serial: peer };
  }

  /** Answers one CONTROL request with a RESULT; never throws. */
  handle(frame: ControlFrame, peerSerial: string): Promise<PeerReply> {
    const run = this.queue.then(() => this.answer(frame, peerSerial));
    this.queue = run.catch(() => {});
    return run.then(
      (result): PeerReply => ({ type: "RESULT", body: JSON.stringify({ ok: true, ...result }) }),
      (error: unknown): PeerReply => {
        const known = isGsnapError(error);
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
    switch (request.op) {
      case "VOLUME_INFO":
        return { volume: this.info(request.body.volser) };
      case "RESERVE":
        return { volser: await this.reserve(request.body, peer) };
      case "RELEASE":
        return await this.release(request.body.job, peer);
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
    let volser = request.volser;
    // A job that resumes after a restart asks again for what it may hold already: it gets it.
    const held = this.reservations.find(
      (r) =>
        r.job === request.job &&
        r.peer === peer &&
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
      this.reservations = this.reservations.filter((r) => r !== held);
    }
    if (request.create !== undefined) {
      volser ??= freeVolser(this.options.store, { prefix: "#T" });
      // Kept before the volume exists, so that a crash in between leaves nothing unreleased.
      const reservation = { job: request.job, peer, volser, created: true };
      this.reservations.push(reservation);
      await this.save();
      try {
        await store.createVolume({
          volser,
          ssid: request.ssid,
          cylinders: request.create.cylinders,
          trackSizeBytes: request.create.trackSizeBytes,
          job: { id: request.job, serial: peer },
        });
      } catch (error) {
        this.reservations = this.reservations.filter((r) => r !== reservation);
        await this.save();
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
    const clash = this.reservations.find(
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
    this.reservations.push({
      job: request.job,
      peer,
      volser,
      extents: request.extents,
      created: false,
    });
    await this.save();
    return volser;
  }

  /** Gives back what the job held: the volumes deleted, and those it left part old, part new. */
  private async release(
    job: string,
    peer: string,
  ): Promise<{ deleted: string[]; inconsistent: string[] }> {
    const mine = this.reservations.filter((r) => r.job === job && r.peer === peer);
    const deleted: string[] = [];
    const inconsistent: string[] = [];
    for (const reservation of mine) {
      // A pair the job left behind (its primary crashed or could not tell us) ends here.
      if (this.options.pairs.isSecondary(reservation.volser)) {
        await this.options.pairs.terminate(reservation.volser);
      }
      if (reservation.created) {
        try {
          await this.options.store.deleteVolume(reservation.volser);
          deleted.push(reservation.volser);
        } catch (error) {
          if (!isGsnapError(error) || error.code !== "VOLUME_NOT_FOUND") throw error;
        }
      } else if (this.isInconsistent(reservation.volser)) {
        inconsistent.push(reservation.volser);
      }
    }
    this.reservations = this.reservations.filter((r) => !mine.includes(r));
    await this.save();
    return { deleted, inconsistent };
  }

  private isInconsistent(volser: string): boolean {
    const volume = this.options.store.listVolumes().find((v) => v.volser === volser);
    return volume?.inconsistent !== undefined;
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
    const held = this.reservations.some(
      (r) => r.job === job && r.peer === peer && r.volser === volser,
    );
    if (!held) {
      throw new GsnapError(
        "GSC_VOLUME_BUSY",
        `Cannot use ${volser} for job ${job}: the job holds no reservation of it here`,
      );
    }
  }

  private extentsOf(volser: string, extents: string | undefined): Extent[] {
    if (extents !== undefined) return parseExtentList(extents);
    return [{ firstTrack: 0, lastTrack: this.options.store.showVolume(volser).trackCount - 1 }];
  }

  private save(): Promise<void> {
    return writeJsonFile(this.file, { format: 1, reservations: this.reservations });
  }
}
