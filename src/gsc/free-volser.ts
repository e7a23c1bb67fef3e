// A VOLSER no volume of a store has, for an intermediate a job allocates: a prefix (`#P` on the
// source, `#T` on the target) and four base-36 digits. `#` is a valid VOLSER character that
// operators rarely use, so allocated intermediates stand out in a volume list.

import type { Store } from "../store/store.js";

export function freeVolser(store: Pick<Store, "listVolumes">, prefix: "#P" | "#T"): string {
  const taken = new Set(store.listVolumes().map((volume) => volume.volser));
  for (;;) {
    const digits = Math.floor(Math.random() * 36 ** 4)
      .toString(36)
      .toUpperCase()
      .padStart(4, "0");
    const name = `${prefix}${digits}`;
    if (!taken.has(name)) return name;
  }
}
