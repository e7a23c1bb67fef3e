// Parses `VOLSER[:C.H-C.H[+C.H-C.H...]]`, the way the CLI and the API name a volume and,
// optionally, extents on it (e.g. `VOL001:0.0-9.14`). Pure logic.

import { type Extent, parseExtentList } from "./address.js";
import { checkVolser } from "./names.js";

export interface VolumeExtents {
  readonly volser: string;
  /** Undefined when the text names the volume alone. */
  readonly extents?: Extent[];
}

export function parseVolumeExtents(text: string): VolumeExtents {
  const colon = text.indexOf(":");
  if (colon < 0) return { volser: checkVolser(text.trim()) };
  return {
    volser: checkVolser(text.slice(0, colon).trim()),
    extents: parseExtentList(text.slice(colon + 1)),
  };
}
