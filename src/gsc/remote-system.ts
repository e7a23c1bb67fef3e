// The target system of a GSC as the source sees it: CONTROL requests over the path's connections,
// answered by RESULTs (gsc/target-requests.ts on the other side). A refusal there comes back as
// the target's own error code and message, prefixed with its serial, so an operator reads
// exactly what the target said.

import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";
import { GsnapError } from "../errors/gsnap-error.js";
import { ControlOp, type ControlOpName } from "../link/frame-types.js";
import type { LinkConnection } from "../link/link-connection.js";
import {
  decodeChecksums,
  MAX_CHECKSUM_TRACKS,
  type RemoteVolumeInfo,
  type ReserveRequest,
  type SnapRequestBody,
} from "./control-body.js";

/**
 * A control request waits this long for its RESULT. Snaps and reservations are catalog changes
 * of milliseconds and a flush takes seconds on a slow disk; a minute means the target is stuck.
 */
export const CONTROL_TIMEOUT_MS = 60_000;

/** The target answered a request with its own error: the code is the target's. */
export class TargetRefusal extends GsnapError {}

export class RemoteSystem {
  constructor(
    readonly serial: string,
    private readonly connections: () => LinkConnection[],
  ) {}

  async info(volser: string): Promise<RemoteVolumeInfo> {
    return (await this.call("VOLUME_INFO", { volser })).volume as RemoteVolumeInfo;
  }

  async reserve(request: ReserveRequest): Promise<string> {
    return (await this.call("RESERVE", request)).volser as string;
  }

  async release(job: string): Promise<string[]> {
    return (await this.call("RELEASE", { job })).deleted as string[];
  }

  async snap(request: SnapRequestBody): Promise<number> {
    return (await this.call("SNAP", request)).tracks as number;
  }

  async flush(): Promise<void> {
    await this.call("FLUSH", {});
  }

  /** The stored checksums of `count` tracks from `firstTrack`, asked for in slices. */
  async checksums(
    job: string,
    volser: string,
    firstTrack: number,
    count: number,
  ): Promise<bigint[]> {
    const all: bigint[] = [];
    for (let done = 0; done < count; done += MAX_CHECKSUM_TRACKS) {
      const slice = Math.min(MAX_CHECKSUM_TRACKS, count - done);
      const result = await this.call("CHECKSUMS", {
        job,
        volser,
        firstTrack: firstTrack + done,
        count: slice,
      });
      all.push(...decodeChecksums(result.checksums as string, slice));
    }
    return all;
  }

  private async call(op: ControlOpName, body: object): Promise<Record<string, unknown>> {
    const [connection] = this.connections();
    const what = `System ${this.serial}`;
    let timeout: NodeJS.Timeout | undefined;
    const timer = new Promise<"timeout">((resolve) => {
      timeout = setTimeout(() => resolve("timeout"), CONTROL_TIMEOUT_MS);
    });
    const reply = await Promise.race([
      connection.request({ type: "CONTROL", op: ControlOp[op], body: JSON.stringify(body) }),
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
