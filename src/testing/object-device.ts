// The object-store chunk device as tests open a store on it: small segments sealed at once, so
// that the tests read uploaded segments back through the cache, and the device of each data dir
// kept for the test to drain or inspect.

import path from "node:path";
import { type ObjectDeviceOptions, ObjectSegmentDevice } from "../objects/object-segment-device.js";
import type { ObjectStore } from "../objects/object-store.js";
import type { StoreOptions } from "../store/store.js";

export interface TestObjectDevice {
  /** Store.open's `device` option. */
  readonly device: NonNullable<StoreOptions["device"]>;
  /** The device last opened for a data dir. */
  deviceOf(dataDir: string): ObjectSegmentDevice;
}

/**
 * Opens devices on `objectsFor(dataDir)` (the same object store again when a data dir reopens)
 * with staging in DATA/staging and segments of `segmentTracks` tracks of `trackBytes`.
 */
export function testObjectDevice(
  objectsFor: (dataDir: string) => ObjectStore,
  options: { segmentTracks: number; trackBytes: number } & Partial<
    Omit<ObjectDeviceOptions, "store" | "stagingDir" | "segmentBytes">
  >,
): TestObjectDevice {
  const { segmentTracks, trackBytes, ...device } = options;
  const opened = new Map<string, ObjectSegmentDevice>();
  return {
    device: async (committedSizes, dataDir) => {
      const made = await ObjectSegmentDevice.open(
        {
          sealIdleMs: 10,
          ...device,
          store: objectsFor(dataDir),
          stagingDir: path.join(dataDir, "staging"),
          segmentBytes: segmentTracks * (trackBytes + 32),
        },
        committedSizes,
      );
      opened.set(dataDir, made);
      return made;
    },
    deviceOf: (dataDir) => {
      const made = opened.get(dataDir);
      if (made === undefined) throw new Error(`no device was opened for ${dataDir}`);
      return made;
    },
  };
}

/** One object store per data dir, made on first use: what tests with many stores want. */
export function objectStorePerDir(make: () => ObjectStore): (dataDir: string) => ObjectStore {
  const byDir = new Map<string, ObjectStore>();
  return (dataDir) => {
    let objects = byDir.get(dataDir);
    if (objects === undefined) {
      objects = make();
      byDir.set(dataDir, objects);
    }
    return objects;
  };
}
