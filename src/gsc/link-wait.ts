// A GSC job whose target goes away (the target system restarts, the network fails) waits for the
// link to come back instead of failing at once, then runs the step again (docs/gsc.md, "Restarts
// resume"). The wait is bounded: a target gone for good fails the job, which then cleans up what
// it can and leaves the rest to the clean-up retries.

import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { TargetRefusal } from "./remote-system.js";

/**
 * How long a job waits for its link. A restarted target is back in seconds and the path's
 * reconnect backs off to 10 s between tries; three minutes rides out an upgrade of the target or
 * a switch reboot, and is short enough that an operator is told of a target really gone.
 */
export const LINK_WAIT_MS = 180_000;
/** How often the wait looks at the path. */
const LINK_POLL_MS = 250;
/**
 * Times one step runs again after its link failed: a link that keeps breaking as soon as it is up
 * (a flapping switch port) fails the job rather than holding it forever.
 */
export const MAX_STEP_ATTEMPTS = 10;

/** The link to the target failed under a request (not a refusal the target answered). */
export function isLinkFailure(error: unknown): boolean {
  return isGsnapError(error) && error.code === "LINK_DOWN" && !(error instanceof TargetRefusal);
}

/**
 * Resolves true once `reachable()` holds, false after `timeoutMs` or when `signal` aborts (the
 * job was cancelled or the system stops; the caller checks which).
 */
export async function waitForLink(options: {
  readonly reachable: () => boolean;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}): Promise<boolean> {
  const { reachable, signal, timeoutMs } = options;
  const deadline = performance.now() + timeoutMs;
  while (!signal.aborted) {
    if (reachable()) return true;
    if (performance.now() >= deadline) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, LINK_POLL_MS);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
  return false;
}

/**
 * Runs `body`, a step's work that is safe to run again; when the link to the target fails under
 * it, waits for the link (at most `timeoutMs`) and runs it again, at most MAX_STEP_ATTEMPTS
 * times. A link that stays down fails with LINK_DOWN, saying how long it was waited for.
 */
export async function retryOnLinkFailure<T>(
  body: () => Promise<T>,
  options: {
    readonly reachable: () => boolean;
    readonly signal: AbortSignal;
    readonly timeoutMs: number;
    /** Throws when the job was cancelled meanwhile. */
    readonly checkCancelled: () => void;
    /** Called before each run after the link came back. */
    readonly resumed: () => void;
  },
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await body();
    } catch (error) {
      if (!isLinkFailure(error) || attempt >= MAX_STEP_ATTEMPTS) throw error;
      const back = await waitForLink(options);
      options.checkCancelled();
      if (!back) {
        throw new GsnapError(
          "LINK_DOWN",
          `${(error as Error).message}; the link did not come back within ${options.timeoutMs / 1000} s`,
          { cause: error },
        );
      }
      options.resumed();
    }
  }
}
