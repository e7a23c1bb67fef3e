import { describe, expect, it } from "vitest";
import { CHUNK_HEADER_BYTES } from "./chunk-device.js";
import { adjacentRuns, runBuffers } from "./segment-runs.js";

const read = (segment: number, offsetBytes: number, lengthBytes = 100) => ({
  location: { segment, offsetBytes, lengthBytes },
  target: Buffer.alloc(lengthBytes),
});

describe("segment read runs", () => {
  it("joins chunks one header apart in one segment, and nothing else", () => {
    const step = 100 + CHUNK_HEADER_BYTES;
    const reads = [read(1, 32), read(1, 32 + step), read(1, 32 + 3 * step), read(2, 32 + 4 * step)];
    expect(adjacentRuns(reads).map((run) => run.length)).toEqual([2, 1, 1]);
  });

  it("reads the headers between joined chunks into scratch, counting every byte", () => {
    const step = 100 + CHUNK_HEADER_BYTES;
    const { buffers, total } = runBuffers([
      read(1, 32),
      read(1, 32 + step),
      read(1, 32 + 2 * step),
    ]);
    expect(buffers.map((buffer) => buffer.length)).toEqual([100, 32, 100, 32, 100]);
    expect(total).toBe(364);
  });
});
