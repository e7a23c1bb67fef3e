// The target system of a GSC as the source sees it: CONTROL requests over the path's connections,
// answered by RESULTs (gsc/target-requests.ts on the other side). A refusal there comes back as
// the target's own error code and message, prefixed with its serial, so an operator reads
// exactly what the target said.

import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import { GsnapError } from "../errors/gsnap-error.js";
import { ControlOp, type ControlOpName } from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";
import type { PathManager } from "../pprc/path-manager.js";
import type { TrackRange } from "../pprc/track-feed.js";
import {
  decodeChecksums,
  MAX_CHECKSUM_RUNS,
  MAX_CHECKSUM_TRACKS,
  type RemoteVolumeInfo,
  type ReserveRequest,
  type SnapRequestBody,
} from "./control-body.js";
import type { GscPlan } from "./gsc-plan.js";

/**
 * A control request waits this long for its RESULT. Snaps and reservations are catalog changes
 * of milliseconds and a flush takes seconds on a slow disk; a minute means the target is stuck.
 */
export const CONTROL_TIMEOUT_MS = 60_000;

/** The target answered a request with its own error: the code is the target's. */
export class TargetRefusal extends GsnapError {}

/** Where a job's target is: over the path from the source's SSID to the target subsystem. */
export interface Route {
  readonly ssid: string;
  readonly serial: string;
  readonly remoteSsid: string;
}

export function routeOf(plan: GscPlan): Route {
  return { ssid: plan.source.ssid, serial: plan.target.serial, remoteSsid: plan.target.ssid };
}

export class RemoteSystem {
  /**
   * The system at the end of `route`. Throws PATH_NOT_FOUND or LINK_DOWN when it is not there
   * now, unless `later`: a job that resumes finds out at its first request, and waits.
   */
  static over(
    paths: Pick<PathManager, "connectionsTo">,
    route: Route,
    options: { later?: boolean } = {},
  ): RemoteSystem {
    const connections = () =>
      paths.connectionsTo({
        ssid: route.ssid,
        remoteSerial: route.serial,
        remoteSsid: route.remoteSsid,
      });
    if (options.later !== true) connections();
    return new RemoteSystem(route.serial, connections);
  }

  constructor(
    readonly serial: string,
    private readonly connections: () => LinkConnection[],
  ) {}

  /** Whether the path has a link up now: a request would go. */
  reachable(): boolean {
    try {
      return this.connections().length > 0;
    } catch {
      return false;
    }
  }

  async info(volser: string): Promise<RemoteVolumeInfo> {
    return (await this.call("VOLUME_INFO", { volser })).volume as RemoteVolumeInfo;
  }

  async reserve(request: ReserveRequest): Promise<string> {
    return (await this.call("RESERVE", request)).volser as string;
  }

  /** The volumes the target deleted, and those the job left part old, part new there. */
  async release(job: string): Promise<{ deleted: string[]; inconsistent: string[] }> {
    const result = await this.call("RELEASE", { job });
    return {
      deleted: result.deleted as string[],
      // Absent from a target older than the inconsistent mark.
      inconsistent: (result.inconsistent as string[] | undefined) ?? [],
    };
  }

  async snap(request: SnapRequestBody): Promise<number> {
    return (await this.call("SNAP", request)).tracks as number;
  }

  async flush(): Promise<void> {
    await this.call("FLUSH", {});
  }

  /**
   * The stored checksums of the tracks of `runs` of `volser`, as one checksum list in run order:
   * one CHECKSUMS request per batch of at most MAX_CHECKSUM_TRACKS tracks and MAX_CHECKSUM_RUNS
   * runs, however the tracks are scattered. Every request is sent at once (the target answers
   * them one after another), so the caller may work while the target reads.
   */
  async checksums(request: {
    job: string;
    volser: string;
    runs: readonly TrackRange[];
  }): Promise<Buffer> {
    const lists = checksumBatches(request.runs).map(async (batch) => {
      const result = await this.call("CHECKSUMS", {
        job: request.job,
        volser: request.volser,
        runs: batch.runs.map((run) => [run.firstTrack, run.count]),
      });
      return decodeChecksums(result.checksums as string, batch.tracks);
    });
    return Buffer.concat(await Promise.all(lists));
  }

  private async call(op: ControlOpName, body: object): Promise<Record<string, unknown>> {
    const [connection] = this.connections();
    const what = `System ${this.serial}`;
    // A request about a job names the job's system too (ours): the target refuses it from a link
    // that is not from that system (docs/link-protocol.md, "CONTROL and RESULT").
    const sent = "job" in body ? { ...body, serial: connection.localSerial } : body;
    let timeout: NodeJS.Timeout | undefined;
    const timer = new Promise<"timeout">((resolve) => {
      timeout = setTimeout(() => resolve("timeout"), CONTROL_TIMEOUT_MS);
    });
    const reply = await Promise.race([
      connection.request({ type: "CONTROL", op: ControlOp[op], body: JSON.stringify(sent) }),
      timer,
    ]).finally(() => clearTimeout(timeout));
    if (reply === "timeout") {
      throw new GsnapError(
        "LINK_DOWN",
        `${what} did not answer ${op} within ${CONTROL_TIMEOUT_MS} ms`,
      );
    }
    if (reply.type !== "RESULT") {
      throw new GsnapError(
        "GSC_TARGET_ERROR",
        `${what} answered ${op} with ${reply.type}: it does not take GSC requests`,
      );
    }
    // The link checked the body is a JSON object; its fields are the peer's to get right.
    const result = JSON.parse(reply.body) as Record<string, unknown>;
    if (result.ok === true) return result;
    const code =
      typeof result.code === "string" && result.code in ERROR_CODES
        ? result.code
        : "GSC_TARGET_ERROR";
    throw new TargetRefusal(code as ErrorCode, `${what}: ${String(result.message)}`);
  }
}

/** `runs` cut into CHECKSUMS requests: a run longer than a request's room is split. */
export function checksumBatches(
  runs: readonly TrackRange[],
): { runs: TrackRange[]; tracks: number }[] {
  const batches: { runs: TrackRange[]; tracks: number }[] = [];
  let batch = { runs: [] as TrackRange[], tracks: 0 };
  for (const run of runs) {
    let { firstTrack, count } = run;
    while (count > 0) {
      if (batch.tracks === MAX_CHECKSUM_TRACKS || batch.runs.length === MAX_CHECKSUM_RUNS) {
        batches.push(batch);
        batch = { runs: [], tracks: 0 };
      }
      const taken = Math.min(count, MAX_CHECKSUM_TRACKS - batch.tracks);
      batch.runs.push({ firstTrack, count: taken });
      batch.tracks += taken;
      firstTrack += taken;
      count -= taken;
    }
  }
  if (batch.runs.length > 0) batches.push(batch);
  return batches;
}
