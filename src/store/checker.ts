// The store checker (`gsnap fsck`): recounts every reference from scratch and compares it with
// the stored counts, reads every chunk and verifies its checksum and its record header, and checks
// the segment accounting. It reports problems; it never repairs.

import { chunkChecksum } from "./checksum.js";
import { CHUNK_HEADER_BYTES } from "./chunk-device.js";
import { NONE } from "./mapping-tree.js";
import type { StoreParts } from "./track-io.js";
import { treeOf } from "./volume-record.js";

export interface CheckReport {
  readonly ok: boolean;
  readonly problems: string[];
  readonly volumes: number;
  readonly nodes: number;
  readonly orphans: number;
  readonly chunks: number;
  readonly segments: number;
  readonly checkedBytes: number;
}

/** Reporting stops growing past this many problems: the first ones say what went wrong. */
const MAX_PROBLEMS = 100;

export function checkStore(parts: StoreParts): CheckReport {
  const { catalog, device } = parts;
  const problems: string[] = [];
  const report = (problem: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(problem);
  };
  const nodeRefs = new Map<number, number>();
  const chunkRefs = new Map<number, number>();
  const count = (counts: Map<number, number>, id: number) =>
    counts.set(id, (counts.get(id) ?? 0) + 1);
  const levels = new Map<number, number>();

  const volumes = catalog.listVolumes();
  for (const volume of volumes) {
    if (volume.root === NONE) continue;
    count(nodeRefs, volume.root);
    levels.set(volume.root, treeOf(volume).depth - 1);
  }
  const nodeIds = catalog.allNodeIds();
  const nodeSet = new Set(nodeIds);
  for (const id of nodeIds) {
    const node = catalog.readNode(id);
    const expectedLevel = levels.get(id);
    if (expectedLevel !== undefined && expectedLevel !== node.level) {
      report(`node ${id} is at level ${node.level} but referenced at level ${expectedLevel}`);
    }
    for (const entry of node.entries) {
      if (entry === NONE) continue;
      if (node.level === 0) {
        count(chunkRefs, entry);
        continue;
      }
      count(nodeRefs, entry);
      if (!nodeSet.has(entry)) report(`node ${id} references missing node ${entry}`);
    }
  }
  let orphans = 0;
  for (const id of nodeIds) {
    const stored = catalog.nodeRefs(id);
    const expected = nodeRefs.get(id) ?? 0;
    if (stored !== expected)
      report(`node ${id} has ${stored} references stored, ${expected} exist`);
    if (catalog.isOrphan(id)) orphans += 1;
    if ((stored === 0) !== catalog.isOrphan(id)) {
      report(
        `node ${id} has ${stored} references but is ${catalog.isOrphan(id) ? "" : "not "}an orphan`,
      );
    }
  }
  for (const id of nodeRefs.keys()) {
    if (!nodeSet.has(id)) report(`node ${id} is referenced but missing`);
  }

  const liveBytes = new Map<number, number>();
  let chunks = 0;
  let checkedBytes = 0;
  for (const { id, chunk } of catalog.allChunks()) {
    chunks += 1;
    const expected = chunkRefs.get(id) ?? 0;
    if (chunk.refs !== expected)
      report(`chunk ${id} has ${chunk.refs} references stored, ${expected} exist`);
    chunkRefs.delete(id);
    if (catalog.chunkAt(chunk.location) !== id)
      report(`chunk ${id} is missing from its segment's index`);
    const { location } = chunk;
    liveBytes.set(
      location.segment,
      (liveBytes.get(location.segment) ?? 0) + CHUNK_HEADER_BYTES + location.lengthBytes,
    );
    try {
      const data = Buffer.allocUnsafe(location.lengthBytes);
      device.readInto(location, data, 0);
      checkedBytes += data.length;
      if (chunkChecksum(data) !== chunk.hash) report(`chunk ${id} fails its checksum`);
      const [found] = device.scan(location.segment, {
        fromOffsetBytes: location.offsetBytes - CHUNK_HEADER_BYTES,
        maxBytes: 0,
      });
      if (
        found?.id !== id ||
        found.hash !== chunk.hash ||
        found.location.lengthBytes !== location.lengthBytes
      ) {
        report(
          `chunk ${id}'s record header in segment ${location.segment} does not match the catalog`,
        );
      }
    } catch (error) {
      report(`chunk ${id} cannot be read: ${(error as Error).message}`);
    }
  }
  for (const id of chunkRefs.keys()) report(`chunk ${id} is referenced but missing`);
  if (catalog.segmentIndexSize() !== chunks) {
    report(`the segment index holds ${catalog.segmentIndexSize()} chunks, the catalog ${chunks}`);
  }

  const stats = catalog.segmentStats();
  const sizes = device.segmentSizes();
  for (const [segment, { sizeBytes, liveBytes: storedLive }] of stats) {
    const actualLive = liveBytes.get(segment) ?? 0;
    if (storedLive !== actualLive) {
      report(`segment ${segment} has ${storedLive} live bytes recorded, ${actualLive} in chunks`);
    }
    if (sizes.get(segment) !== sizeBytes) {
      report(`segment ${segment} is ${sizes.get(segment)} bytes, ${sizeBytes} recorded`);
    }
  }
  for (const segment of liveBytes.keys()) {
    if (!stats.has(segment)) report(`segment ${segment} holds chunks but has no record`);
  }
  return {
    ok: problems.length === 0,
    problems,
    volumes: volumes.length,
    nodes: nodeIds.length,
    orphans,
    chunks,
    segments: stats.size,
    checkedBytes,
  };
}
