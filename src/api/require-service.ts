// The replication services (paths, pairs) are optional: an API built for tests of other parts has
// none. Their routes ask for the service through this, and answer PATHS_UNAVAILABLE without it.

import { GsnapError } from "../errors/gsnap-error.js";

/**
 * A function giving `service`, or refusing the route's action when the API has none. `what` names
 * the missing part in messages: `Cannot list pairs: this API was started without replication pairs`.
 */
export function requireService<T>(service: T | undefined, what: string): (action: string) => T {
  return (action) => {
    if (service !== undefined) return service;
    throw new GsnapError(
      "PATHS_UNAVAILABLE",
      `Cannot ${action}: this API was started without ${what}`,
    );
  };
}
