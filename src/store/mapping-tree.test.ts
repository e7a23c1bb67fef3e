import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryNodeStore } from "../testing/memory-node-store.js";
import {
  assign,
  assignSparse,
  countMapped,
  depthFor,
  emptyTree,
  FANOUT,
  lookup,
  releaseTree,
  snap,
  type Tree,
} from "./mapping-tree.js";

function filled(store: MemoryNodeStore, trackCount: number, firstChunk: number): Tree {
  const chunkIds = Float64Array.from({ length: trackCount }, (_, i) => firstChunk + i);
  return assign(store, emptyTree(trackCount), { firstTrack: 0, chunkIds });
}

function firstDifference(actual: Float64Array, expected: Float64Array): number {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return -1;
  return actual.findIndex((value, i) => value !== expected[i]);
}

describe("mapping tree", () => {
  it("has the fewest levels that cover the volume", () => {
    expect(depthFor(1)).toBe(1);
    expect(depthFor(FANOUT)).toBe(1);
    expect(depthFor(50_085)).toBe(2);
    expect(depthFor(982_800)).toBe(3);
  });

  it("reads back what was assigned and NONE elsewhere", () => {
    const store = new MemoryNodeStore();
    let tree = emptyTree(3_000);
    tree = assign(store, tree, { firstTrack: 500, chunkIds: Float64Array.of(7, 8, 9) });
    expect([...lookup(store, tree, { firstTrack: 499, count: 5 })]).toEqual([0, 7, 8, 9, 0]);
    expect(countMapped(store, tree)).toBe(3);
  });

  it("shares the root when a whole volume is snapped, whatever its size", () => {
    for (const trackCount of [50_085, 982_800]) {
      const store = new MemoryNodeStore();
      const source = filled(store, trackCount, 1);
      const nodesBefore = store.nodes.size;
      const readsBefore = store.nodeReads;
      const target = snap(
        store,
        { source, target: emptyTree(trackCount) },
        { sourceFirstTrack: 0, targetFirstTrack: 0, count: trackCount },
      );
      expect(target.root).toBe(source.root);
      expect(store.nodes.size).toBe(nodesBefore);
      expect(store.nodeReads - readsBefore).toBe(0);
      expect(store.checkCounts([source.root, target.root])).toEqual([]);
    }
  });

  it("snaps an aligned extent by sharing leaves, copying no entries", () => {
    const store = new MemoryNodeStore();
    const source = filled(store, 50_085, 1);
    const chunkRefsBefore = [...store.chunkRefCounts.values()].reduce((a, b) => a + b, 0);
    const target = snap(
      store,
      { source, target: emptyTree(50_085) },
      { sourceFirstTrack: 0, targetFirstTrack: 0, count: 40 * FANOUT },
    );
    const chunkRefsAfter = [...store.chunkRefCounts.values()].reduce((a, b) => a + b, 0);
    expect(chunkRefsAfter).toBe(chunkRefsBefore);
    expect(countMapped(store, target)).toBe(40 * FANOUT);
    expect(store.checkCounts([source.root, target.root])).toEqual([]);
  });

  it("copies a shared node before writing to it, leaving the other volume unchanged", () => {
    const store = new MemoryNodeStore();
    const source = filled(store, 2_000, 1);
    let target = snap(
      store,
      { source, target: emptyTree(2_000) },
      { sourceFirstTrack: 0, targetFirstTrack: 0, count: 2_000 },
    );
    target = assign(store, target, { firstTrack: 10, chunkIds: Float64Array.of(99_999) });
    expect(lookup(store, source, { firstTrack: 10, count: 1 })[0]).toBe(11);
    expect(lookup(store, target, { firstTrack: 10, count: 1 })[0]).toBe(99_999);
    expect(target.root).not.toBe(source.root);
    expect(store.checkCounts([source.root, target.root])).toEqual([]);
  });

  it("frees every node and chunk once the last tree referencing them is released", () => {
    const store = new MemoryNodeStore();
    const source = filled(store, 5_000, 1);
    const target = snap(
      store,
      { source, target: emptyTree(6_000) },
      { sourceFirstTrack: 100, targetFirstTrack: 900, count: 4_000 },
    );
    releaseTree(store, source);
    expect(countMapped(store, target)).toBe(4_000);
    releaseTree(store, target);
    expect(store.nodes.size).toBe(0);
    expect(store.chunkRefCounts.size).toBe(0);
  });

  it("matches a flat model under random assigns, scattered assigns, unmaps, snaps and releases", () => {
    const sizes = [700, 1_600, 263_000];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("assign" as const),
        tree: fc.nat(2),
        at: fc.nat(300_000),
        count: fc.integer({ min: 1, max: 1_200 }),
        unmap: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant("snap" as const),
        source: fc.nat(2),
        target: fc.nat(2),
        from: fc.nat(300_000),
        to: fc.nat(300_000),
        count: fc.oneof(fc.integer({ min: 1, max: 2_000 }), fc.constant(1_000_000)),
        aligned: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant("sparse" as const),
        tree: fc.nat(2),
        at: fc.nat(300_000),
        gaps: fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
        unmap: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("release" as const), tree: fc.nat(2) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const store = new MemoryNodeStore();
        // Each tree starts fully mapped to distinct chunks, so a wrong share shows as wrong ids.
        let nextChunk = 1;
        const trees = sizes.map((size) => {
          const tree = filled(store, size, nextChunk);
          nextChunk += size;
          return tree;
        });
        const models = trees.map((tree) =>
          lookup(store, tree, { firstTrack: 0, count: tree.trackCount }),
        );
        for (const step of ops) {
          if (step.kind === "assign") {
            const size = sizes[step.tree];
            const count = Math.min(step.count, size);
            const first = step.at % (size - count + 1);
            const chunkIds = Float64Array.from({ length: count }, () =>
              step.unmap ? 0 : nextChunk++,
            );
            trees[step.tree] = assign(store, trees[step.tree], { firstTrack: first, chunkIds });
            models[step.tree].set(chunkIds, first);
          } else if (step.kind === "sparse") {
            const size = sizes[step.tree];
            const tracks: number[] = [];
            for (let track = step.at % size, i = 0; track < size && i < step.gaps.length; i += 1) {
              tracks.push(track);
              track += step.gaps[i];
            }
            const chunkIds = Float64Array.from(tracks, (_, i) =>
              step.unmap && i % 2 === 0 ? 0 : nextChunk++,
            );
            const edit = { tracks: Float64Array.from(tracks), chunkIds };
            trees[step.tree] = assignSparse(store, trees[step.tree], edit);
            tracks.forEach((track, i) => {
              models[step.tree][track] = chunkIds[i];
            });
          } else if (step.kind === "snap") {
            const count = Math.min(step.count, sizes[step.source], sizes[step.target]);
            const align = (n: number) => (step.aligned ? n - (n % FANOUT) : n);
            const from = align(step.from % (sizes[step.source] - count + 1));
            const to = align(step.to % (sizes[step.target] - count + 1));
            const overlap = from < to + count && to < from + count;
            if (step.source === step.target && overlap) continue;
            const range = { sourceFirstTrack: from, targetFirstTrack: to, count };
            trees[step.target] = snap(
              store,
              { source: trees[step.source], target: trees[step.target] },
              range,
            );
            models[step.target].set(models[step.source].slice(from, from + count), to);
          } else {
            releaseTree(store, trees[step.tree]);
            trees[step.tree] = emptyTree(sizes[step.tree]);
            models[step.tree].fill(0);
          }
          for (let i = 0; i < sizes.length; i += 1) {
            const actual = lookup(store, trees[i], { firstTrack: 0, count: sizes[i] });
            expect(firstDifference(actual, models[i])).toBe(-1);
          }
          expect(store.checkCounts(trees.map((tree) => tree.root))).toEqual([]);
        }
      }),
      { numRuns: 20 },
    );
  });
});
