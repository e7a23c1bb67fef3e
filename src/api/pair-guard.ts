// Keeps volume and snap routes from pulling a volume out from under its pair: a paired volume is
// not deleted, and a snap does not write into it (the mirror would not see those tracks change).
// The operator terminates the pair first.

import { GsnapError } from "../errors/gsnap-error.js";
import type { PairService } from "../pprc/pair-service.js";

/**
 * Refuses `action` with PAIR_EXISTS when `volser` is in a pair. `action` completes "Cannot ...",
 * e.g. `delete volume "VOL001"`. Without a pairs service no volume is paired.
 */
export function refusePaired(
  pairs: PairService | undefined,
  request: { volser: string; action: string },
): void {
  const pair = pairs?.list().find((candidate) => candidate.volser === request.volser);
  if (pair === undefined) return;
  const partner = pair.role === "primary" ? pair.secondary : pair.primary;
  throw new GsnapError(
    "PAIR_EXISTS",
    `Cannot ${request.action}: volume "${request.volser}" is the ${pair.role} of a pair with ` +
      `${partner}; terminate the pair first (gsnap pair terminate ${request.volser})`,
  );
}
