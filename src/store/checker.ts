// The store checker (`gsnap fsck`): recounts every reference from scratch and compares it with
// the stored counts, reads every chunk and verifies its checksum, its block checksums and its
// record header, and checks the segment accounting. It reports problems; it never repairs.

import { blocksMatch, chunkChecksum } from "./checksum.js";
import { CHUNK_HEADER_BYTES, type ChunkLocation } from "./chunk-device.js";
import { NONE } from "./mapping-tree.js";
import { decodeChunkHeader } from "./segment-format.js";
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

/** Chunks read at once (on the thread pool, or from a remote device) and then verified. */
const READ_BATCH = 256;

/**
 * Reads the records in one batch; when that fails, each on its own, so that one unreadable chunk
 * hides none of the others. Returns why each record that could not be read failed, by index.
 */
async function readRecords(
  device: StoreParts["device"],
  records: readonly { location: ChunkLocation; target: Buffer }[],
): Promise<Map<number, string>> {
  const unreadable = new Map<number, string>();
  try {
    await device.readManyAsync(records);
  } catch {
    for (const [i, record] of records.entries()) {
      try {
        await device.readManyAsync([record]);
      } catch (error) {
        unreadable.set(i, (error as Error).message);
      }
    }
  }
  return unreadable;
}

export async function checkStore(parts: StoreParts): Promise<CheckReport> {
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
  /** Where the last chunk of each segment ends: the segment's recorded size must cover it. */
  const chunkEnds = new Map<number, number>();
  let chunks = 0;
  let checkedBytes = 0;
  const toRead: {
    id: number;
    hash: bigint;
    location: ChunkLocation;
    blockSums: Buffer | undefined;
  }[] = [];
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
    const end = location.offsetBytes + location.lengthBytes;
    if (end > (chunkEnds.get(location.segment) ?? 0)) chunkEnds.set(location.segment, end);
    toRead.push({ id, hash: chunk.hash, location, blockSums: chunk.blockSums });
  }
  for (let start = 0; start < toRead.length; start += READ_BATCH) {
    const batch = toRead.slice(start, start + READ_BATCH);
    // Each record whole, header and image, read the way host reads are (a remote device fetches).
    const records = batch.map(({ location }) => ({
      location: {
        segment: location.segment,
        offsetBytes: location.offsetBytes - CHUNK_HEADER_BYTES,
        lengthBytes: location.lengthBytes + CHUNK_HEADER_BYTES,
      },
      target: Buffer.allocUnsafe(location.lengthBytes + CHUNK_HEADER_BYTES),
    }));
    const unreadable = await readRecords(device, records);
    batch.forEach(({ id, hash, location, blockSums }, i) => {
      const why = unreadable.get(i);
      if (why !== undefined) {
        report(`chunk ${id} cannot be read: ${why}`);
        return;
      }
      const record = records[i].target;
      checkedBytes += location.lengthBytes;
      const image = record.subarray(CHUNK_HEADER_BYTES);
      if (chunkChecksum(image) !== hash) {
        report(`chunk ${id} fails its checksum`);
      }
      if (blockSums !== undefined && !blocksMatch(image, { sums: blockSums, firstBlock: 0 })) {
        report(`chunk ${id} fails its block checksums`);
      }
      let header: { id: number; lengthBytes: number; hash: bigint } | undefined;
      try {
        header = decodeChunkHeader(
          record.subarray(0, CHUNK_HEADER_BYTES),
          `segment ${location.segment} offset ${location.offsetBytes - CHUNK_HEADER_BYTES}`,
        );
      } catch {
        header = undefined;
      }
      if (
        header?.id !== id ||
        header.hash !== hash ||
        header.lengthBytes !== location.lengthBytes
      ) {
        report(
          `chunk ${id}'s record header in segment ${location.segment} does not match the catalog`,
        );
      }
    });
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
    // The device may hold more than the catalog records (appends under way, or failed ones,
    // which the next open cuts off); never less.
    const deviceBytes = sizes.get(segment) ?? 0;
    if (deviceBytes < sizeBytes) {
      report(`segment ${segment} is ${deviceBytes} bytes, ${sizeBytes} recorded`);
    }
    const end = chunkEnds.get(segment) ?? 0;
    if (end > sizeBytes) {
      report(`segment ${segment} has ${sizeBytes} bytes recorded, but a chunk ends at ${end}`);
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
