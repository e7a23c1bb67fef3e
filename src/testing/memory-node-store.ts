// An in-memory NodeStore for unit tests of the mapping tree: nodes, node and chunk reference
// counts in Maps, with released nodes freed at once (the real store defers that to its collector).

import assert from "node:assert/strict";
import {
  type EntryWindow,
  FANOUT,
  NONE,
  type NodeStore,
  type TreeNode,
} from "../store/mapping-tree.js";

export class MemoryNodeStore implements NodeStore {
  readonly nodes = new Map<number, TreeNode>();
  readonly nodeRefCounts = new Map<number, number>();
  readonly chunkRefCounts = new Map<number, number>();
  nodeReads = 0;
  private nextId = 1;

  readNode(id: number): TreeNode {
    const node = this.nodes.get(id);
    assert.ok(node, `node ${id} exists`);
    this.nodeReads += 1;
    return { level: node.level, entries: node.entries.slice() };
  }

  copyEntries(id: number, window: EntryWindow): number {
    const node = this.nodes.get(id);
    assert.ok(node, `node ${id} exists`);
    this.nodeReads += 1;
    const { from, count, into, at } = window;
    into.set(node.entries.subarray(from, from + count), at);
    return node.level;
  }

  writeNode(id: number, node: TreeNode): void {
    assert.ok(this.nodes.has(id));
    assert.equal(node.entries.length, FANOUT);
    this.nodes.set(id, { level: node.level, entries: node.entries.slice() });
  }

  createNode(node: TreeNode): number {
    const id = this.nextId++;
    this.nodes.set(id, { level: node.level, entries: node.entries.slice() });
    this.nodeRefCounts.set(id, 1);
    return id;
  }

  nodeRefs(id: number): number {
    return this.nodeRefCounts.get(id) ?? 0;
  }

  retainNode(id: number): void {
    assert.ok(this.nodeRefs(id) >= 1);
    this.nodeRefCounts.set(id, this.nodeRefs(id) + 1);
  }

  releaseNode(id: number): void {
    const refs = this.nodeRefs(id);
    assert.ok(refs >= 1);
    if (refs > 1) {
      this.nodeRefCounts.set(id, refs - 1);
      return;
    }
    const node = this.nodes.get(id);
    assert.ok(node);
    this.nodes.delete(id);
    this.nodeRefCounts.delete(id);
    for (const entry of node.entries) {
      if (entry === NONE) continue;
      if (node.level === 0) this.releaseChunk(entry);
      else this.releaseNode(entry);
    }
  }

  retainChunk(id: number): void {
    this.chunkRefCounts.set(id, (this.chunkRefCounts.get(id) ?? 0) + 1);
  }

  releaseChunk(id: number): void {
    const refs = this.chunkRefCounts.get(id) ?? 0;
    assert.ok(refs >= 1);
    if (refs === 1) this.chunkRefCounts.delete(id);
    else this.chunkRefCounts.set(id, refs - 1);
  }

  /** Recounts every reference from the roots given and compares with the stored counts. */
  checkCounts(roots: readonly number[]): string[] {
    const nodeRefs = new Map<number, number>();
    const chunkRefs = new Map<number, number>();
    for (const root of roots) if (root !== NONE) nodeRefs.set(root, (nodeRefs.get(root) ?? 0) + 1);
    for (const node of this.nodes.values()) {
      const counts = node.level === 0 ? chunkRefs : nodeRefs;
      for (const entry of node.entries) {
        if (entry !== NONE) counts.set(entry, (counts.get(entry) ?? 0) + 1);
      }
    }
    const problems: string[] = [];
    const compare = (kind: string, expected: Map<number, number>, actual: Map<number, number>) => {
      for (const id of new Set([...expected.keys(), ...actual.keys()])) {
        if (expected.get(id) !== actual.get(id)) {
          problems.push(`${kind} ${id}: ${actual.get(id)} refs stored, ${expected.get(id)} exist`);
        }
      }
    };
    compare("node", nodeRefs, this.nodeRefCounts);
    compare("chunk", chunkRefs, this.chunkRefCounts);
    return problems;
  }
}
