// What the API needs of replication paths: the PathManager, or a fake of it in tests.

import type { EstablishRequest } from "./path-spec.js";
import type { PathInfo } from "./path-state.js";

export interface PathService {
  /** Every path with its state, in the order they were established. */
  list(): PathInfo[];
  /**
   * Establishes a path and tries each link once before it answers; a path none of whose links
   * came up is removed again (PATH_FAILED) unless the request keeps it.
   */
  establish(request: EstablishRequest): Promise<PathInfo>;
  /** Removes a path and closes its links. */
  remove(request: { ssid: string; to: string }): Promise<void>;
}
