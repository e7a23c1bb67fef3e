// The mapping table of one volume: a radix tree from track index to chunk id whose nodes are
// reference-counted and shared copy-on-write between volumes, as dm-thin and btrfs share subtrees.
// Pure logic over a NodeStore; the store supplies the nodes and the reference counts.
//
// Every node has FANOUT entries. A leaf (level 0) holds chunk ids; a node at level L > 0 holds the
// ids of nodes at level L - 1. A node at level L covers FANOUT^(L+1) tracks. Id 0 means "nothing":
// an unmapped track, or an empty subtree. A volume's tree has the fewest levels that cover its
// tracks, so a 3390-3 (50,085 tracks) has 2 and a 3390-54 (982,800 tracks) has 3.
//
// A snap copies entries from one tree into another. Where the copied range covers a whole target
// node and the source holds a node at the same level for exactly those tracks, the target takes the
// source node (one reference) instead of its entries; so a snap of a whole volume costs O(1) and a
// snap of an aligned extent costs O(levels x nodes at its edges), whatever its length.
//
// A write to a node that more than one parent references first copies it (the copy retains every
// child); a node whose last reference goes is released by the store, which later releases its
// children in turn (see gc.ts).

import assert from "node:assert/strict";

/** 512 entries of 8 bytes make a 4 KiB node: one LMDB page of payload, one leaf per 512 tracks. */
export const FANOUT = 512;

/** Id 0 is never a chunk or a node: it marks an unmapped track or an empty subtree. */
export const NONE = 0;

export interface TreeNode {
  readonly level: number;
  readonly entries: Float64Array;
}

/** Where nodes and reference counts live. Every call happens inside the caller's transaction. */
export interface NodeStore {
  /** A copy of the node, safe to modify. */
  readNode(id: number): TreeNode;
  /**
   * Copies entries [from, from + count) of a node into `into` at index `at` and returns the
   * node's level: a lookup copies the few entries it needs, not the node's 4 KiB.
   */
  copyEntries(id: number, window: EntryWindow): number;
  writeNode(id: number, node: TreeNode): void;
  /** Stores a new node with one reference and returns its id. */
  createNode(node: TreeNode): number;
  nodeRefs(id: number): number;
  retainNode(id: number): void;
  /** Drops one reference; at zero the store schedules the node's children for release. */
  releaseNode(id: number): void;
  retainChunk(id: number): void;
  releaseChunk(id: number): void;
}

export interface EntryWindow {
  readonly from: number;
  readonly count: number;
  readonly into: Float64Array;
  readonly at: number;
}

export interface Tree {
  readonly root: number;
  readonly depth: number;
  readonly trackCount: number;
}

export function depthFor(trackCount: number): number {
  assert.ok(trackCount > 0);
  let depth = 1;
  while (FANOUT ** depth < trackCount) depth += 1;
  return depth;
}

export function emptyTree(trackCount: number): Tree {
  return { root: NONE, depth: depthFor(trackCount), trackCount };
}

function spanOf(level: number): number {
  return FANOUT ** (level + 1);
}

function childSpanOf(level: number): number {
  return FANOUT ** level;
}

/** The chunk ids of tracks [firstTrack, firstTrack + count), NONE where unmapped. */
export function lookup(
  store: NodeStore,
  tree: Tree,
  range: { firstTrack: number; count: number },
): Float64Array {
  assert.ok(range.firstTrack >= 0 && range.firstTrack + range.count <= tree.trackCount);
  const result = new Float64Array(range.count);
  collect(store, tree.root, tree.depth - 1, 0, range.firstTrack, result);
  return result;
}

function collect(
  store: NodeStore,
  id: number,
  level: number,
  base: number,
  firstTrack: number,
  result: Float64Array,
): void {
  if (id === NONE) return;
  const low = Math.max(firstTrack, base);
  const high = Math.min(firstTrack + result.length, base + spanOf(level));
  if (level === 0) {
    const window = { from: low - base, count: high - low, into: result, at: low - firstTrack };
    assert.equal(store.copyEntries(id, window), level);
    return;
  }
  const childSpan = childSpanOf(level);
  const firstChild = Math.floor((low - base) / childSpan);
  const children = new Float64Array(Math.floor((high - 1 - base) / childSpan) - firstChild + 1);
  const window = { from: firstChild, count: children.length, into: children, at: 0 };
  assert.equal(store.copyEntries(id, window), level);
  for (let i = 0; i < children.length; i += 1) {
    const childBase = base + (firstChild + i) * childSpan;
    collect(store, children[i], level - 1, childBase, firstTrack, result);
  }
}

/** Tracks to point at chunks; `born` says the chunks already hold the reference they take. */
interface Edit {
  readonly firstTrack: number;
  readonly chunkIds: Float64Array;
  /** True for chunks recorded just now with one reference each (NodeStore.addChunk). */
  readonly born?: boolean;
}

/**
 * Points tracks [firstTrack, firstTrack + chunkIds.length) at the given chunk ids (NONE unmaps),
 * retaining each new chunk (unless it was born with its reference) and releasing each replaced
 * one. Returns the tree's new root.
 */
export function assign(store: NodeStore, tree: Tree, edit: Edit): Tree {
  const { firstTrack, chunkIds } = edit;
  assert.ok(firstTrack >= 0 && firstTrack + chunkIds.length <= tree.trackCount);
  if (chunkIds.length === 0) return tree;
  const root = assignInto(store, tree.root, tree.depth - 1, 0, edit);
  return { ...tree, root };
}

function assignInto(store: NodeStore, id: number, level: number, base: number, edit: Edit): number {
  const low = Math.max(edit.firstTrack, base);
  const high = Math.min(edit.firstTrack + edit.chunkIds.length, base + spanOf(level));
  const values = edit.chunkIds.subarray(low - edit.firstTrack, high - edit.firstTrack);
  if (id === NONE && values.every((value) => value === NONE)) return NONE;
  const own = ownNode(store, id, level);
  const node = store.readNode(own);
  if (level === 0) {
    for (let i = 0; i < values.length; i += 1) {
      pointEntry(store, node, { index: low - base + i, next: values[i], born: edit.born });
    }
  } else {
    const childSpan = childSpanOf(level);
    const lastChild = Math.floor((high - 1 - base) / childSpan);
    for (let child = Math.floor((low - base) / childSpan); child <= lastChild; child += 1) {
      const childBase = base + child * childSpan;
      node.entries[child] = assignInto(store, node.entries[child], level - 1, childBase, edit);
    }
  }
  return storeOrPrune(store, own, node);
}

/** Scattered tracks to point at chunks: track numbers in strictly increasing order. */
export interface SparseEdit {
  readonly tracks: Float64Array;
  readonly chunkIds: Float64Array;
  /** True for chunks recorded just now with one reference each (NodeStore.addChunk). */
  readonly born?: boolean;
}

/**
 * Points scattered tracks at chunks in one walk of the tree: each node on the way is read, copied
 * if shared, and written once, however many of its tracks change (assign() would walk once per
 * run, writing a leaf again for each). Returns the tree's new root.
 */
export function assignSparse(store: NodeStore, tree: Tree, edit: SparseEdit): Tree {
  const { tracks, chunkIds } = edit;
  assert.equal(tracks.length, chunkIds.length);
  if (tracks.length === 0) return tree;
  for (let i = 1; i < tracks.length; i += 1) {
    assert.ok(tracks[i - 1] < tracks[i], "sparse tracks go in increasing order");
  }
  assert.ok(tracks[0] >= 0 && tracks[tracks.length - 1] < tree.trackCount);
  const root = assignSparseInto(store, tree.root, tree.depth - 1, 0, {
    edit,
    from: 0,
    to: tracks.length,
  });
  return { ...tree, root };
}

/** The edit's entries [from, to), all under the node at `level` that covers tracks from `base`. */
interface SparseSlice {
  readonly edit: SparseEdit;
  readonly from: number;
  readonly to: number;
}

function assignSparseInto(
  store: NodeStore,
  id: number,
  level: number,
  base: number,
  slice: SparseSlice,
): number {
  const { edit, from, to } = slice;
  if (id === NONE && edit.chunkIds.subarray(from, to).every((value) => value === NONE)) {
    return NONE;
  }
  const own = ownNode(store, id, level);
  const node = store.readNode(own);
  if (level === 0) {
    for (let i = from; i < to; i += 1) {
      const index = edit.tracks[i] - base;
      pointEntry(store, node, { index, next: edit.chunkIds[i], born: edit.born });
    }
  } else {
    const childSpan = childSpanOf(level);
    let start = from;
    while (start < to) {
      const child = Math.floor((edit.tracks[start] - base) / childSpan);
      const childEnd = base + (child + 1) * childSpan;
      let end = start + 1;
      while (end < to && edit.tracks[end] < childEnd) end += 1;
      const childBase = base + child * childSpan;
      const part = { edit, from: start, to: end };
      node.entries[child] = assignSparseInto(
        store,
        node.entries[child],
        level - 1,
        childBase,
        part,
      );
      start = end;
    }
  }
  return storeOrPrune(store, own, node);
}

/**
 * Points one entry of an owned leaf at a chunk: retains the new chunk (unless it was born with its
 * reference) and releases the one it replaces.
 */
function pointEntry(
  store: NodeStore,
  leaf: TreeNode,
  entry: { index: number; next: number; born: boolean | undefined },
): void {
  const previous = leaf.entries[entry.index];
  if (previous === entry.next) return;
  if (entry.next !== NONE && entry.born !== true) store.retainChunk(entry.next);
  if (previous !== NONE) store.releaseChunk(previous);
  leaf.entries[entry.index] = entry.next;
}

/** A node id the caller's slot may modify: the node itself when unshared, else a private copy. */
function ownNode(store: NodeStore, id: number, level: number): number {
  if (id === NONE) return store.createNode({ level, entries: new Float64Array(FANOUT) });
  const refs = store.nodeRefs(id);
  assert.ok(refs >= 1);
  if (refs === 1) return id;
  const node = store.readNode(id);
  for (const entry of node.entries) {
    if (entry === NONE) continue;
    if (level === 0) store.retainChunk(entry);
    else store.retainNode(entry);
  }
  const copy = store.createNode(node);
  store.releaseNode(id);
  return copy;
}

/** Writes an owned node back, or releases it when it maps nothing so empty subtrees cost nothing. */
function storeOrPrune(store: NodeStore, id: number, node: TreeNode): number {
  store.writeNode(id, node);
  if (node.entries.some((entry) => entry !== NONE)) return id;
  // Written first, so the release that follows sees no children to release a second time.
  store.releaseNode(id);
  return NONE;
}

export interface SnapRange {
  readonly sourceFirstTrack: number;
  readonly targetFirstTrack: number;
  readonly count: number;
}

/**
 * Copies the mapping of `count` source tracks into the target tree, sharing whole nodes where the
 * ranges allow. Returns the target's new tree. Source and target may be the same tree when the two
 * ranges do not overlap.
 */
export function snap(
  store: NodeStore,
  trees: { source: Tree; target: Tree },
  range: SnapRange,
): Tree {
  const { source, target } = trees;
  assert.ok(range.count > 0);
  assert.ok(range.sourceFirstTrack + range.count <= source.trackCount);
  assert.ok(range.targetFirstTrack + range.count <= target.trackCount);
  const root = snapInto(store, { source, target, range }, target.root, target.depth - 1, 0);
  return { ...target, root };
}

interface SnapContext {
  readonly source: Tree;
  readonly target: Tree;
  readonly range: SnapRange;
}

function snapInto(
  store: NodeStore,
  context: SnapContext,
  id: number,
  level: number,
  base: number,
): number {
  const { range } = context;
  const low = Math.max(range.targetFirstTrack, base);
  const high = Math.min(range.targetFirstTrack + range.count, base + spanOf(level));
  const shared = sharedSourceNode(store, context, level, { base, low, high });
  if (shared !== undefined) {
    if (shared === id) return id;
    if (shared !== NONE) store.retainNode(shared);
    if (id !== NONE) store.releaseNode(id);
    return shared;
  }
  const shift = range.sourceFirstTrack - range.targetFirstTrack;
  if (level === 0) {
    const chunkIds = lookup(store, context.source, { firstTrack: low + shift, count: high - low });
    return assignInto(store, id, 0, base, { firstTrack: low, chunkIds });
  }
  const own = ownNode(store, id, level);
  const node = store.readNode(own);
  const childSpan = childSpanOf(level);
  const lastChild = Math.floor((high - 1 - base) / childSpan);
  for (let child = Math.floor((low - base) / childSpan); child <= lastChild; child += 1) {
    const childBase = base + child * childSpan;
    node.entries[child] = snapInto(store, context, node.entries[child], level - 1, childBase);
  }
  return storeOrPrune(store, own, node);
}

/**
 * The source node the target node at `level`/`base` can take whole, or undefined when it cannot:
 * the copied range must cover every target track under the node, and the source must hold a node
 * at the same level covering exactly the matching tracks (the same count of them inside its volume).
 */
function sharedSourceNode(
  store: NodeStore,
  context: SnapContext,
  level: number,
  window: { base: number; low: number; high: number },
): number | undefined {
  const { source, target, range } = context;
  const span = spanOf(level);
  const targetEnd = Math.min(window.base + span, target.trackCount);
  if (window.low !== window.base || window.high < targetEnd) return undefined;
  const sourceBase = window.base + range.sourceFirstTrack - range.targetFirstTrack;
  if (sourceBase % span !== 0 || source.depth - 1 < level) return undefined;
  const sourceEnd = Math.min(sourceBase + span, source.trackCount);
  if (sourceEnd - sourceBase !== targetEnd - window.base) return undefined;
  let id = source.root;
  const entry = new Float64Array(1);
  for (let at = source.depth - 1; at > level; at -= 1) {
    if (id === NONE) return NONE;
    const from = Math.floor(sourceBase / childSpanOf(at)) % FANOUT;
    assert.equal(store.copyEntries(id, { from, count: 1, into: entry, at: 0 }), at);
    id = entry[0];
  }
  return id;
}

/** Drops the tree's reference to its root (deleting a volume). */
export function releaseTree(store: NodeStore, tree: Tree): void {
  if (tree.root !== NONE) store.releaseNode(tree.root);
}

/** Counts mapped tracks; `memo` caches per-node counts so shared subtrees are walked once. */
export function countMapped(
  store: NodeStore,
  tree: Tree,
  memo: Map<number, number> = new Map(),
): number {
  return countUnder(store, tree.root, memo);
}

function countUnder(store: NodeStore, id: number, memo: Map<number, number>): number {
  if (id === NONE) return 0;
  const cached = memo.get(id);
  if (cached !== undefined) return cached;
  const node = store.readNode(id);
  let count = 0;
  for (const entry of node.entries) {
    if (entry === NONE) continue;
    count += node.level === 0 ? 1 : countUnder(store, entry, memo);
  }
  memo.set(id, count);
  return count;
}
