// The chunk device `gsnap serve` opens its store with: local segment files under DATA/segments, or
// segments staged in DATA/staging and uploaded to an S3 object store. Also what the API shows of it
// (kind, URL, the device's stats) and the banner line. A data dir keeps its chunks where it first
// kept them: the store records where (chunkHome) and refuses to open over chunks kept elsewhere.

import path from "node:path";
import type { Logger } from "pino";
import type { ChunkBackendView } from "../api/api-context.js";
import { ObjectSegmentDevice } from "../objects/object-segment-device.js";
import { S3ObjectStore } from "../objects/s3-object-store.js";
import { SegmentDevice } from "../store/segment-device.js";
import type { StoreOptions } from "../store/store.js";
import type { ChunksConfig, S3ChunksConfig } from "./chunks-config.js";

export interface ChunkBackend extends ChunkBackendView {
  /** Where chunks live, for the banner: "s3://b/p/ at http://host:7480 (staging DATA/staging)". */
  readonly description: string;
  /** How the store opens its chunk device, and where it records that its chunks are. */
  readonly storeOptions: Required<Pick<StoreOptions, "device" | "chunkHome">>;
  /** Lets go of the object store's connections; call it after the store has closed. */
  close(): void;
}

/** Where each backend keeps segment files in the data dir. */
const LOCAL_DIR = "segments";
const STAGING_DIR = "staging";

export function openChunkBackend(
  config: ChunksConfig,
  options: { readonly dataDir: string; readonly logger: Logger },
): ChunkBackend {
  return config.kind === "local"
    ? localBackend(options.dataDir)
    : s3Backend(config, options.dataDir, options.logger.child({ part: "chunks" }));
}

function localBackend(dataDir: string): ChunkBackend {
  const dir = path.join(dataDir, LOCAL_DIR);
  return {
    kind: "local",
    description: `local segment files (${dir})`,
    storeOptions: {
      chunkHome: "local",
      device: (committedSizes) => new SegmentDevice(dir, { committedSizes }),
    },
    stats: () => undefined,
    close: () => {},
  };
}

function s3Backend(config: S3ChunksConfig, dataDir: string, logger: Logger): ChunkBackend {
  const store = new S3ObjectStore({
    bucket: config.bucket,
    prefix: config.prefix,
    endpoint: config.endpoint,
    region: config.region,
    credentials: config.credentials,
  });
  const stagingDir = path.join(dataDir, STAGING_DIR);
  let device: ObjectSegmentDevice | undefined;
  return {
    kind: "s3",
    url: config.url,
    endpoint: config.endpoint,
    description: `${store.description} (staging ${stagingDir})`,
    storeOptions: {
      chunkHome: config.url,
      device: async (committedSizes) => {
        device = await ObjectSegmentDevice.open(
          {
            store,
            stagingDir,
            segmentBytes: config.segmentBytes,
            cacheBytes: config.cacheBytes,
            log: (level, message) => logger[level](message),
          },
          committedSizes,
        );
        return device;
      },
    },
    stats: () => device?.stats(),
    close: () => store.close(),
  };
}
