// What the handshake knows of exports: one per volume, named by its VOLSER. The directory over a
// store reads the catalog on each call, so a volume created after the server started is served at
// once, and a deleted one disappears.

import type { VolumeInfo } from "../store/volume-record.js";
import type { HostVolumes } from "./host-volumes.js";

export interface NbdExport {
  readonly name: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly trackSizeBytes: number;
  readonly description: string;
}

export interface ExportDirectory {
  /** Every export's name, in order. */
  names(): string[];
  /** The export of that name, or undefined when there is none. */
  find(name: string): NbdExport | undefined;
}

/** Export names that could be a VOLSER; anything else is not looked up at all. */
const VOLSER_PATTERN = /^[A-Z0-9@#$]{1,6}$/;

export function storeExports(store: HostVolumes): ExportDirectory {
  return {
    names: () => store.listVolumes().map((volume) => volume.volser),
    find: (name) => {
      if (!VOLSER_PATTERN.test(name)) return undefined;
      const volume = store.listVolumes().find((candidate) => candidate.volser === name);
      return volume === undefined ? undefined : exportOf(volume);
    },
  };
}

export function exportOf(volume: VolumeInfo): NbdExport {
  return {
    name: volume.volser,
    sizeBytes: volume.sizeBytes,
    readOnly: volume.readOnly,
    trackSizeBytes: volume.trackSizeBytes,
    description:
      `gsnap volume ${volume.volser}: ${volume.model}, ${volume.cylinders} cylinders of ` +
      `${volume.heads} tracks of ${volume.trackSizeBytes} bytes, SSID ${volume.ssid}` +
      (volume.readOnly ? ", read-only" : "") +
      (volume.inconsistent === undefined
        ? ""
        : `, INCONSISTENT: a copy from ${volume.inconsistent.pair} stopped before it completed`),
  };
}
