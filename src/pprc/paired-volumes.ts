// The volumes as hosts see them through pairs: what the NBD server serves in a storage system
// with replication. A secondary is read-only to hosts while paired; a primary's writes go through
// its PrimaryPair (mirrored in sync mode, recorded otherwise); everything else is the store's.

import { GsnapError } from "../errors/gsnap-error.js";
import type { HostVolumes } from "../nbd/host-volumes.js";
import type { Store } from "../store/store.js";
import type { PairManager } from "./pair-manager.js";

export function pairedVolumes(store: Store, pairs: PairManager): HostVolumes {
  const refuseSecondary = (volser: string, action: string) => {
    if (pairs.isSecondary(volser)) {
      throw new GsnapError(
        "VOLUME_READ_ONLY",
        `Cannot ${action} volume ${volser}: it is a pair secondary, read-only to hosts until the pair is terminated`,
      );
    }
  };
  return {
    listVolumes: () =>
      store
        .listVolumes()
        .map((volume) =>
          pairs.isSecondary(volume.volser) ? { ...volume, readOnly: true } : volume,
        ),
    read: (volser, range, into) => store.read(volser, range, into),
    allocation: (volser, range) => store.allocation(volser, range),
    async write(volser, write) {
      refuseSecondary(volser, "write");
      const primary = pairs.primaryOf(volser);
      if (primary === undefined) return store.write(volser, write);
      return primary.write(write.offsetBytes, write.data);
    },
    async zero(volser, range) {
      refuseSecondary(volser, "zero");
      const primary = pairs.primaryOf(volser);
      if (primary === undefined) return store.zero(volser, range);
      return primary.zero(range.offsetBytes, range.lengthBytes);
    },
    // A FLUSH covers the sync pairs' secondaries too: what they acknowledged is made durable
    // there, or their pairs suspend with those tracks marked in the bitmaps synced here.
    async flush() {
      const [local, remote] = await Promise.allSettled([store.flush(), pairs.flushSecondaries()]);
      if (local.status === "rejected") throw local.reason;
      pairs.syncBitmaps();
      if (remote.status === "rejected") throw remote.reason;
    },
  };
}
