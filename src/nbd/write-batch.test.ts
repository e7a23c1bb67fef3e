import { describe, expect, it } from "vitest";
import { Command } from "./protocol.js";
import { ReceiveBuffer } from "./receive-buffer.js";
import type { Request } from "./transmission-codec.js";
import { MAX_BATCH_BYTES, type StoreWrite, WriteBatch } from "./write-batch.js";

interface Item {
  readonly request: Request;
}

function setup() {
  const issued: StoreWrite<Item>[] = [];
  const batch = new WriteBatch<Item>((write) => issued.push(write));
  const input = new ReceiveBuffer();
  let handle = 0n;
  const add = (offsetBytes: number, lengthBytes: number, fill: number) => {
    handle += 1n;
    input.push(Buffer.alloc(lengthBytes, fill));
    const request = { flags: 0, type: Command.WRITE, handle, offsetBytes, lengthBytes };
    batch.add({ request }, input);
  };
  return { issued, batch, add, input };
}

describe("write batch", () => {
  it("passes a write that does not continue the last one straight on", () => {
    const { issued, add } = setup();
    add(4096, 512, 1);
    add(0, 512, 2);
    expect(issued.map((write) => write.offsetBytes)).toEqual([4096, 0]);
    expect(issued[1].data).toEqual(Buffer.alloc(512, 2));
  });

  it("merges writes that continue a sequential stream into one store write", () => {
    const { issued, batch, add, input } = setup();
    add(0, 1000, 1);
    add(1000, 1000, 2);
    add(2000, 1000, 3);
    add(3000, 500, 4);
    expect(issued).toHaveLength(1);
    batch.flush();
    expect(issued).toHaveLength(2);
    expect(issued[1].offsetBytes).toBe(1000);
    expect(issued[1].data).toEqual(
      Buffer.concat([Buffer.alloc(1000, 2), Buffer.alloc(1000, 3), Buffer.alloc(500, 4)]),
    );
    expect(issued[1].writes.map((write) => write.request.handle)).toEqual([2n, 3n, 4n]);
    expect(input.length).toBe(0);
  });

  it("sends the batch before a write that breaks the run, keeping arrival order", () => {
    const { issued, add } = setup();
    add(0, 100, 1);
    add(100, 100, 2);
    add(0, 100, 3);
    expect(issued.map((write) => [write.offsetBytes, write.data[0]])).toEqual([
      [0, 1],
      [100, 2],
      [0, 3],
    ]);
  });

  it("starts a new batch when the next write would overflow it", () => {
    const { issued, batch, add } = setup();
    const half = MAX_BATCH_BYTES / 2;
    add(0, half, 1);
    add(half, half, 2);
    add(2 * half, half, 3);
    add(3 * half, half, 4);
    add(4 * half, half, 5);
    batch.flush();
    expect(issued.map((write) => write.writes.length)).toEqual([1, 2, 2]);
  });

  it("sends what it holds at the end of the event loop turn", async () => {
    const { issued, add } = setup();
    add(0, 100, 1);
    add(100, 100, 2);
    expect(issued).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(issued).toHaveLength(2);
  });

  it("reuses a batch buffer once the store has finished with its write", () => {
    const { issued, batch, add } = setup();
    add(0, 100, 1);
    add(100, 100, 2);
    batch.flush();
    const first = issued[1].batchBuffer;
    expect(first).toBeDefined();
    add(0, 100, 3);
    add(100, 100, 4);
    batch.flush();
    expect(issued[3].batchBuffer).not.toBe(first);
    batch.recycle(issued[1]);
    add(0, 100, 5);
    add(100, 100, 6);
    batch.flush();
    expect(issued[5].batchBuffer).toBe(first);
    expect(issued[5].data).toEqual(Buffer.alloc(100, 6));
  });
});
