// The workload of the crash test: a deterministic sequence of store operations (each one catalog
// change) generated from a seed, and a byte model of the volumes they leave. The worker process
// applies them to a store until it is killed; the test replays the model to know what must be there.

import { S3ObjectStore, type S3ObjectStoreOptions } from "../objects/s3-object-store.js";
import type { Store, StoreOptions } from "../store/store.js";
import { testObjectDevice } from "./object-device.js";
import { seededRandom } from "./prng.js";

export const CRASH_TRACK_BYTES = 4_096;
export const CRASH_VOLUMES = [
  { volser: "CRASHA", cylinders: 40 },
  { volser: "CRASHB", cylinders: 40 },
  { volser: "CRASHC", cylinders: 10 },
] as const;
/** A scratch volume the workload creates and deletes in turn. */
export const SCRATCH = { volser: "SCRTCH", cylinders: 10 } as const;

export type CrashOp =
  | { kind: "write"; volume: number; offsetBytes: number; lengthBytes: number; fill: number }
  | { kind: "zero"; volume: number; offsetBytes: number; lengthBytes: number }
  | {
      kind: "snap";
      source: number;
      target: number;
      fromTrack: number;
      toTrack: number;
      tracks: number;
    }
  | { kind: "scratch" }
  | { kind: "fill-scratch" }
  | { kind: "flush" };

/** The generator of op `index`: each op has its own, so any op can be derived alone. */
function random(seed: number, index: number): () => number {
  return seededRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

function volumeBytes(volume: number): number {
  return CRASH_VOLUMES[volume].cylinders * 15 * CRASH_TRACK_BYTES;
}

export function crashOp(seed: number, index: number): CrashOp {
  const next = random(seed, index);
  const pick = (n: number) => Math.floor(next() * n);
  const roll = next();
  const volume = pick(CRASH_VOLUMES.length);
  if (roll < 0.5) {
    const lengthBytes = 1 + pick(64 * CRASH_TRACK_BYTES);
    const offsetBytes = pick(volumeBytes(volume) - lengthBytes + 1);
    return { kind: "write", volume, offsetBytes, lengthBytes, fill: 1 + pick(255) };
  }
  if (roll < 0.65) {
    const lengthBytes = 1 + pick(100 * CRASH_TRACK_BYTES);
    return {
      kind: "zero",
      volume,
      offsetBytes: pick(volumeBytes(volume) - lengthBytes + 1),
      lengthBytes,
    };
  }
  if (roll < 0.85) {
    const target = pick(CRASH_VOLUMES.length);
    const sourceTracks = volumeBytes(volume) / CRASH_TRACK_BYTES;
    const targetTracks = volumeBytes(target) / CRASH_TRACK_BYTES;
    const tracks = 1 + pick(Math.min(sourceTracks, targetTracks));
    const fromTrack = pick(sourceTracks - tracks + 1);
    const toTrack = pick(targetTracks - tracks + 1);
    // Overlapping extents on one volume are refused; the workload asks only what must succeed.
    const overlap = fromTrack < toTrack + tracks && toTrack < fromTrack + tracks;
    if (volume === target && overlap) return { kind: "flush" };
    return { kind: "snap", source: volume, target, fromTrack, toTrack, tracks };
  }
  if (roll < 0.9) return { kind: "scratch" };
  if (roll < 0.95) return { kind: "fill-scratch" };
  return { kind: "flush" };
}

/** The bytes each op writes: the fill byte, with the op's index in its first four bytes. */
function payload(op: { lengthBytes: number; fill: number }, index: number): Buffer {
  const data = Buffer.alloc(Math.max(op.lengthBytes, 4), op.fill);
  data.writeUInt32LE(index, 0);
  return data.subarray(0, op.lengthBytes);
}

export interface CrashModel {
  readonly volumes: Buffer[];
  scratch: boolean;
}

export function emptyModel(): CrashModel {
  return { volumes: CRASH_VOLUMES.map((_, i) => Buffer.alloc(volumeBytes(i))), scratch: false };
}

export function applyToModel(model: CrashModel, op: CrashOp, index: number): void {
  if (op.kind === "write") payload(op, index).copy(model.volumes[op.volume], op.offsetBytes);
  if (op.kind === "zero")
    model.volumes[op.volume].fill(0, op.offsetBytes, op.offsetBytes + op.lengthBytes);
  if (op.kind === "snap") {
    const track = CRASH_TRACK_BYTES;
    const bytes = Buffer.from(
      model.volumes[op.source].subarray(op.fromTrack * track, (op.fromTrack + op.tracks) * track),
    );
    bytes.copy(model.volumes[op.target], op.toTrack * track);
  }
  if (op.kind === "scratch") model.scratch = !model.scratch;
}

export async function createCrashVolumes(store: Store): Promise<void> {
  for (const { volser, cylinders } of CRASH_VOLUMES) {
    await store.createVolume({ volser, cylinders, trackSizeBytes: CRASH_TRACK_BYTES });
  }
}

export async function applyToStore(store: Store, op: CrashOp, index: number): Promise<void> {
  if (op.kind === "write") {
    await store.write(CRASH_VOLUMES[op.volume].volser, {
      offsetBytes: op.offsetBytes,
      data: payload(op, index),
    });
  } else if (op.kind === "zero") {
    await store.zero(CRASH_VOLUMES[op.volume].volser, op);
  } else if (op.kind === "snap") {
    await store.snap({
      source: {
        volser: CRASH_VOLUMES[op.source].volser,
        extents: [{ firstTrack: op.fromTrack, lastTrack: op.fromTrack + op.tracks - 1 }],
      },
      target: {
        volser: CRASH_VOLUMES[op.target].volser,
        extents: [{ firstTrack: op.toTrack, lastTrack: op.toTrack + op.tracks - 1 }],
      },
    });
  } else if (op.kind === "scratch") {
    const exists = store.listVolumes().some((volume) => volume.volser === SCRATCH.volser);
    if (exists) await store.deleteVolume(SCRATCH.volser);
    else await store.createVolume({ ...SCRATCH, trackSizeBytes: CRASH_TRACK_BYTES });
  } else if (op.kind === "fill-scratch") {
    // Shares the first volume's chunks with the scratch volume, so deleting it releases shared nodes.
    if (!store.listVolumes().some((volume) => volume.volser === SCRATCH.volser)) return;
    const extents = [{ firstTrack: 0, lastTrack: SCRATCH.cylinders * 15 - 1 }];
    await store.snap({
      source: { volser: CRASH_VOLUMES[0].volser, extents },
      target: { volser: SCRATCH.volser },
    });
  } else {
    await store.flush();
  }
}

/**
 * The chunk device of a crash run: local segment files, or, with `s3` (as GSNAP_CRASH_S3 carries
 * it to the worker), an object store with segments of 16 tracks sealed at once, so that kills land
 * in uploads and in the deletion of staging files.
 */
export function crashDeviceOptions(
  s3: string | undefined = process.env.GSNAP_CRASH_S3,
): Pick<StoreOptions, "device"> {
  if (s3 === undefined || s3 === "") return {};
  const options = JSON.parse(s3) as S3ObjectStoreOptions;
  const { device } = testObjectDevice(() => new S3ObjectStore(options), {
    segmentTracks: 16,
    trackBytes: CRASH_TRACK_BYTES,
    blockBytes: 4_096,
    cacheBytes: 0,
    sealIdleMs: 5,
  });
  return { device };
}
