// Which blocks of a segment object a set of chunk reads needs, and how the missing ones become few
// ranged GETs. Pure logic.

import type { ChunkLocation } from "../store/chunk-device.js";

/** The blocks of a segment that byte ranges of it touch, sorted, each once. */
export function blocksOf(
  ranges: readonly { offsetBytes: number; lengthBytes: number }[],
  blockBytes: number,
): number[] {
  const blocks = new Set<number>();
  for (const { offsetBytes, lengthBytes } of ranges) {
    if (lengthBytes <= 0) continue;
    const last = Math.floor((offsetBytes + lengthBytes - 1) / blockBytes);
    for (let block = Math.floor(offsetBytes / blockBytes); block <= last; block += 1) {
      blocks.add(block);
    }
  }
  return [...blocks].sort((a, b) => a - b);
}

/** A run of adjacent blocks fetched with one ranged GET. */
export interface BlockSpan {
  readonly first: number;
  readonly count: number;
}

/**
 * Groups sorted block numbers into spans of adjacent blocks, at most `maxBlocks` each, and
 * stretches each span by `readahead` blocks past its end (not past `blockCount`, and not over a
 * block `skip` says is already there).
 */
export function spansOf(
  blocks: readonly number[],
  options: {
    maxBlocks: number;
    readahead: number;
    blockCount: number;
    skip: (b: number) => boolean;
  },
): BlockSpan[] {
  const spans: { first: number; count: number }[] = [];
  for (const block of blocks) {
    const last = spans.at(-1);
    if (last !== undefined && block === last.first + last.count && last.count < options.maxBlocks) {
      last.count += 1;
    } else if (last === undefined || block >= last.first + last.count) {
      spans.push({ first: block, count: 1 });
    }
  }
  for (const [i, span] of spans.entries()) {
    const limit = Math.min(options.blockCount, spans[i + 1]?.first ?? options.blockCount);
    let extra = 0;
    while (
      extra < options.readahead &&
      span.first + span.count < limit &&
      !options.skip(span.first + span.count)
    ) {
      span.count += 1;
      extra += 1;
    }
  }
  return spans;
}

/** Groups chunk locations by segment. */
export function bySegment<T extends { location: ChunkLocation }>(
  items: readonly T[],
): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(item.location.segment);
    if (group === undefined) groups.set(item.location.segment, [item]);
    else group.push(item);
  }
  return groups;
}
