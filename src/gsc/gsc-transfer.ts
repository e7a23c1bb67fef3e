// Step 510 of a GSC: waits for the pair P' -> S (or S') to copy the tracks that differed, reading
// its progress into the job. A pair that suspends because its link failed (the target restarted,
// the network broke) is not the end of the job: once the path has a link up again, within the
// job's link wait, the pair is resumed as `pair resume` would, and copies only the tracks its
// out-of-sync bitmap still holds. Any other suspension, a link gone for longer, or a target that
// refuses the resume fails the job with GSC_TRANSFER_FAILED.

import { GsnapError } from "../errors/gsnap-error.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { JobProgress } from "./job-service.js";
import { isLinkFailure, MAX_STEP_ATTEMPTS, waitForLink } from "./link-wait.js";

/** How often the transfer step reads the pair's progress into the job. */
const PROGRESS_INTERVAL_MS = 250;

export interface TransferOptions {
  readonly pairs: PairManager;
  readonly intermediate: string;
  /** The tracks the compare at 508 found differing: the copy's work. */
  readonly toSend: number;
  readonly tracks: number;
  readonly trackSizeBytes: number;
  /** SERIAL of the target, for messages. */
  readonly targetSerial: string;
  readonly signal: AbortSignal;
  readonly linkWaitMs: number;
  readonly progress: (progress: JobProgress) => void;
  /** Called each time the pair resumed after its link came back. */
  readonly resumed: () => void;
  /** Throws GSC_CANCELLED when the job was cancelled. */
  readonly checkCancelled: () => void;
}

/** Resolves once the pair is duplex; throws why it will not get there. */
export async function transferCopy(options: TransferOptions): Promise<void> {
  const { pairs, intermediate, signal } = options;
  const pair = pairs.primaryOf(intermediate);
  if (pair === undefined)
    throw new GsnapError("GSC_TRANSFER_FAILED", `The pair of ${intermediate} is gone`);
  const size = options.trackSizeBytes;
  // The copy's work: the tracks that differed, or after a resume those still out of sync then.
  // Its bytes count from what the pair had sent when this copy began.
  let copy = { toSend: options.toSend, baseBytes: pair.info().bytesSent };
  let startedMs = performance.now();
  // While the copy runs, the pair's rate now and its ETA; once it is over, the copy's average
  // rate (what a finished job's rate means) and no ETA.
  const report = (over = false) => {
    const info = pair.info();
    const left = info.tracksOutOfSync ?? 0;
    const bytesTotal = copy.toSend * size;
    const bytesDone = Math.max(0, Math.min(info.bytesSent - copy.baseBytes, bytesTotal));
    const seconds = (performance.now() - startedMs) / 1000;
    const average = seconds > 0 ? Math.round(bytesDone / seconds) : 0;
    options.progress({
      tracksTotal: options.tracks,
      tracksDone: options.tracks - left,
      tracksToSend: copy.toSend,
      tracksSent: Math.max(0, copy.toSend - left),
      bytesTotal,
      bytesDone,
      rateBytesPerSecond: over ? average : info.rateBytesPerSecond,
      etaSeconds: over ? null : info.etaSeconds,
    });
  };
  report();
  const timer = setInterval(report, PROGRESS_INTERVAL_MS);
  const cancelled = new Promise<"cancelled">((resolve) =>
    signal.addEventListener("abort", () => resolve("cancelled"), { once: true }),
  );
  try {
    for (let attempt = 1; ; attempt += 1) {
      const state = await Promise.race([pair.settled(), cancelled]);
      options.checkCancelled();
      if (state === "duplex") return;
      const info = pair.info();
      const stopped = `The copy to ${options.targetSerial} stopped: the pair suspended (${info.reason}) with ${info.tracksOutOfSync} tracks left`;
      if (info.reason !== "link failure" || attempt > MAX_STEP_ATTEMPTS) {
        throw new GsnapError("GSC_TRANSFER_FAILED", stopped);
      }
      const back = await waitForLink({
        reachable: () => pair.reachable(),
        signal,
        timeoutMs: options.linkWaitMs,
      });
      options.checkCancelled();
      if (!back) {
        throw new GsnapError(
          "GSC_TRANSFER_FAILED",
          `${stopped}, and the link did not come back within ${options.linkWaitMs / 1000} s`,
        );
      }
      try {
        await pairs.resume(intermediate);
      } catch (error) {
        // The link broke again under the resume: the pair is still suspended, so wait again.
        if (isLinkFailure(error)) continue;
        throw new GsnapError(
          "GSC_TRANSFER_FAILED",
          `${stopped}; the target refused to resume the pair: ${(error as Error).message}`,
          { cause: error },
        );
      }
      report(true);
      const resumedInfo = pair.info();
      copy = { toSend: resumedInfo.tracksToCopy ?? 0, baseBytes: resumedInfo.bytesSent };
      startedMs = performance.now();
      options.resumed();
    }
  } finally {
    clearInterval(timer);
    report(true);
  }
}
