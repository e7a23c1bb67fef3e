// What the NBD server needs of the volumes it serves: the store itself, or the store seen through
// pairs (pprc/paired-volumes.ts), which mirrors writes to a sync pair's secondary, records changes
// to a suspended primary and refuses host writes to a secondary.

import type { Store } from "../store/store.js";

export type HostVolumes = Pick<
  Store,
  "listVolumes" | "read" | "write" | "zero" | "allocation" | "flush"
>;
