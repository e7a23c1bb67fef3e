import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isGsnapError } from "../errors/gsnap-error.js";
import { HEADS } from "../geometry/geometry.js";
import { MemoryObjectStore } from "../testing/memory-object-store.js";
import { testObjectDevice } from "../testing/object-device.js";
import { Store } from "./store.js";

// Small tracks keep the model cheap; 600-track volumes have two-level trees, so snaps share
// leaves and copy entries at their edges.
const TRACK = 4_096;
const VOLUMES = [
  { volser: "VOLA", cylinders: 40 },
  { volser: "VOLB", cylinders: 40 },
  { volser: "VOLC", cylinders: 7 },
];

type Op =
  | { kind: "write"; volume: number; at: number; length: number; seed: number }
  | { kind: "zero"; volume: number; at: number; length: number }
  | { kind: "snap"; source: number; target: number; from: number; to: number; tracks: number }
  | { kind: "recreate"; volume: number }
  | { kind: "collect" }
  | { kind: "drain" };

const volumeIndex = fc.nat(VOLUMES.length - 1);
// Offsets crowd into the first 50 tracks so that operations overlap and build on each other.
const offset = fc.oneof(fc.integer({ min: 0, max: 50 * TRACK }), fc.nat());
const track = fc.oneof(fc.nat(50), fc.nat());
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    volume: volumeIndex,
    at: offset,
    length: fc.integer({ min: 1, max: 6 * TRACK }),
    seed: fc.nat(255),
  }),
  fc.record({
    kind: fc.constant("zero" as const),
    volume: volumeIndex,
    at: offset,
    length: fc.integer({ min: 1, max: 8 * TRACK }),
  }),
  fc.record({
    kind: fc.constant("snap" as const),
    source: volumeIndex,
    target: volumeIndex,
    from: track,
    to: track,
    tracks: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 500, max: 600 })),
  }),
  fc.record({ kind: fc.constant("recreate" as const), volume: volumeIndex }),
  fc.constant({ kind: "collect" as const }),
  fc.constant({ kind: "drain" as const }),
);

function sizeOf(volume: number): number {
  return VOLUMES[volume].cylinders * HEADS * TRACK;
}

async function apply(
  store: Store,
  models: Buffer[],
  step: Op,
  drain: () => Promise<void>,
): Promise<void> {
  if (step.kind === "write" || step.kind === "zero") {
    const size = sizeOf(step.volume);
    const length = Math.min(step.length, size);
    const at = step.at % (size - length + 1);
    const { volser } = VOLUMES[step.volume];
    if (step.kind === "write") {
      const data = Buffer.alloc(Math.max(length, 4), step.seed + 1);
      data.writeUInt32LE(step.at, 0);
      await store.write(volser, { offsetBytes: at, data: data.subarray(0, length) });
      data.copy(models[step.volume], at, 0, length);
    } else {
      await store.zero(volser, { offsetBytes: at, lengthBytes: length });
      models[step.volume].fill(0, at, at + length);
    }
  } else if (step.kind === "snap") {
    const sourceTracks = sizeOf(step.source) / TRACK;
    const targetTracks = sizeOf(step.target) / TRACK;
    const count = Math.min(step.tracks, sourceTracks, targetTracks);
    const from = step.from % (sourceTracks - count + 1);
    const to = step.to % (targetTracks - count + 1);
    const request = {
      source: {
        volser: VOLUMES[step.source].volser,
        extents: [{ firstTrack: from, lastTrack: from + count - 1 }],
      },
      target: {
        volser: VOLUMES[step.target].volser,
        extents: [{ firstTrack: to, lastTrack: to + count - 1 }],
      },
    };
    try {
      await store.snap(request);
    } catch (error) {
      // The only refusal these requests can earn: overlapping extents on one volume.
      expect(isGsnapError(error, "EXTENTS_OVERLAP")).toBe(true);
      expect(step.source).toBe(step.target);
      return;
    }
    const bytes = Buffer.from(models[step.source].subarray(from * TRACK, (from + count) * TRACK));
    bytes.copy(models[step.target], to * TRACK);
  } else if (step.kind === "recreate") {
    const { volser, cylinders } = VOLUMES[step.volume];
    await store.deleteVolume(volser);
    await store.createVolume({ volser, cylinders, trackSizeBytes: TRACK });
    models[step.volume].fill(0);
  } else if (step.kind === "drain") {
    await drain();
  } else {
    await store.collectGarbage();
  }
}

interface Backend {
  readonly open: (dir: string) => Promise<Store>;
  /** Sends every staged segment to the object store (nothing to do for local segments). */
  readonly drain: () => Promise<void>;
}

function localBackend(): Backend {
  return {
    open: (dir) => Store.open(dir, { collectorIntervalMs: false }),
    drain: async () => {},
  };
}

/** Segments of 8 tracks and a cache of 272 KiB: uploads, evictions and fetches inside changes. */
function objectBackend(): Backend {
  const objects = new MemoryObjectStore();
  const opened = testObjectDevice(() => objects, {
    segmentTracks: 8,
    trackBytes: TRACK,
    blockBytes: 4_096,
    cacheBytes: 0,
    sealIdleMs: 5,
  });
  let dataDir: string | undefined;
  return {
    open: (dir) => {
      dataDir = dir;
      return Store.open(dir, { collectorIntervalMs: false, device: opened.device });
    },
    drain: async () => {
      if (dataDir !== undefined) await opened.deviceOf(dataDir).drained();
    },
  };
}

describe.each([
  ["segment files", localBackend, 50],
  ["an object store in memory", objectBackend, 25],
] as const)("store on %s against a model", (_name, backend, numRuns) => {
  it("matches byte for byte under random writes, zeroes, snaps and deletes, and the checker passes after each step", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 30 }), async (ops) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-model-"));
        const { open, drain } = backend();
        const store = await open(dir);
        try {
          for (const { volser, cylinders } of VOLUMES) {
            await store.createVolume({ volser, cylinders, trackSizeBytes: TRACK });
          }
          const models = VOLUMES.map((_, i) => Buffer.alloc(sizeOf(i)));
          for (const step of ops) {
            await apply(store, models, step, drain);
            for (let i = 0; i < VOLUMES.length; i += 1) {
              const actual = await store.read(VOLUMES[i].volser, {
                offsetBytes: 0,
                lengthBytes: sizeOf(i),
              });
              expect(
                actual.equals(models[i]),
                `${VOLUMES[i].volser} after ${JSON.stringify(step)}`,
              ).toBe(true);
            }
            expect((await store.check()).problems).toEqual([]);
          }
          await store.collectGarbage();
          const report = await store.check();
          expect(report.problems).toEqual([]);
          expect(report.orphans).toBe(0);
        } finally {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns },
    );
  });
});
