// A VOLSER no volume of a store has, for an intermediate a job allocates: a prefix (`#P` on the
// source, `#T` on the target) and four base-36 digits. `#` is a valid VOLSER character that
// operators rarely use, so allocated intermediates stand out in a volume list. `taken` names
// volumes that do not exist yet but are promised: the P' of jobs accepted and not yet run.

import type { Store } from "../store/store.js";

export function freeVolser(
  store: Pick<Store, "listVolumes">,
  options: { prefix: "#P" | "#T"; taken?: Iterable<string> },
): string {
  const taken = new Set(options.taken);
  for (const volume of store.listVolumes()) taken.add(volume.volser);
  for (;;) {
    const digits = Math.floor(Math.random() * 36 ** 4)
      .toString(36)
      .toUpperCase()
      .padStart(4, "0");
    const name = `${options.prefix}${digits}`;
    if (!taken.has(name)) return name;
  }
}
