// How reads of many chunks become few system calls: chunks appended one after another lie one
// record header apart, so a run of them is read with one readv, the headers between them going to
// a scratch buffer. Pure logic.

import assert from "node:assert/strict";
import { CHUNK_HEADER_BYTES, type ChunkLocation } from "./chunk-device.js";

/** readv takes at most 1,024 buffers (IOV_MAX); a chunk and a header take two. */
const MAX_CHUNKS_PER_READ = 500;

/** Where the headers between adjacent chunks go when a run of chunks is read at once. */
const skippedHeader = Buffer.alloc(CHUNK_HEADER_BYTES);

export type Read = { location: ChunkLocation; target: Buffer };

/**
 * Splits reads into runs of chunks appended one after another (one header apart), each read with
 * one readv, the headers between them into a scratch buffer.
 */
export function adjacentRuns(reads: readonly Read[]): Read[][] {
  const runs: Read[][] = [];
  for (const read of reads) {
    const run = runs.at(-1);
    const last = run?.at(-1);
    const adjacent =
      run !== undefined &&
      last !== undefined &&
      run.length < MAX_CHUNKS_PER_READ &&
      read.location.segment === last.location.segment &&
      read.location.offsetBytes ===
        last.location.offsetBytes + last.location.lengthBytes + CHUNK_HEADER_BYTES;
    if (adjacent) run.push(read);
    else runs.push([read]);
  }
  return runs;
}

export function runBuffers(run: readonly Read[]): { buffers: Buffer[]; total: number } {
  const buffers: Buffer[] = [];
  let total = 0;
  run.forEach((read, i) => {
    assert.equal(read.target.length, read.location.lengthBytes);
    if (i > 0) {
      buffers.push(skippedHeader);
      total += CHUNK_HEADER_BYTES;
    }
    buffers.push(read.target);
    total += read.target.length;
  });
  return { buffers, total };
}
