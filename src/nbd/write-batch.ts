// Merges contiguous WRITE requests of one connection into one store call. A sequential copier
// (nbdcopy, qemu-img convert) sends 256 KiB to 2 MiB writes back to back; the store writes a few
// MiB per call about twice as fast as 256 KiB per call, since fewer tracks are partial (each
// partial track costs a read-modify-write) and fewer transactions commit.
//
// A batch opens only when a write starts where the previous one ended, so random writes are
// passed straight on and never pay for a batch buffer. Payloads are copied once, from the
// received bytes into the batch buffer. A batch goes to the store when the next request is not
// its continuation, when it is full, or at the end of the current turn of the event loop (by
// then every request that arrived together has been parsed), so a write waits microseconds at most.
// Batch buffers are reused once the store has finished with their write (it keeps nothing of the
// data): a 2 GiB copy then allocates a handful of them, not 500, and spares the garbage collector
// work that measurably slowed such copies.

import type { ReceiveBuffer } from "./receive-buffer.js";
import type { Request } from "./transmission-codec.js";

/**
 * The largest merged write: 4 MiB reaches most of the store's large-call speed (1 MiB calls are
 * ~2x faster than 256 KiB, 4 MiB a little faster again) while keeping one batch's buffer small.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Batch buffers kept for reuse once their store write is done: enough for the batches of one
 * connection that are typically in the store at once, so a sequential stream allocates none.
 */
export const SPARE_BATCH_BUFFERS = 4;

export interface StoreWrite<T> {
  readonly offsetBytes: number;
  readonly data: Buffer;
  /** The batch buffer `data` lies in, to hand back with recycle() once the store is done. */
  readonly batchBuffer?: Buffer;
  /** The requests this write answers, in arrival order. */
  readonly writes: readonly T[];
}

/** Batches WRITE requests; T is whatever the caller tracks a request by. */
export class WriteBatch<T extends { readonly request: Request }> {
  private readonly issue: (write: StoreWrite<T>) => void;
  private buffer: Buffer | undefined;
  private offsetBytes = 0;
  private lengthBytes = 0;
  private writes: T[] = [];
  /** Where the last write issued ended: a write starting here continues a sequential stream. */
  private lastEndBytes = -1;
  private scheduled = false;
  private readonly spares: Buffer[] = [];

  constructor(issue: (write: StoreWrite<T>) => void) {
    this.issue = issue;
  }

  /** Takes a checked WRITE whose payload is the next bytes of `input`. */
  add(running: T, input: ReceiveBuffer): void {
    const { offsetBytes, lengthBytes } = running.request;
    const buffer = this.buffer;
    if (
      buffer !== undefined &&
      offsetBytes === this.offsetBytes + this.lengthBytes &&
      this.lengthBytes + lengthBytes <= buffer.length
    ) {
      input.takeInto(buffer, this.lengthBytes, lengthBytes);
      this.lengthBytes += lengthBytes;
      this.writes.push(running);
      return;
    }
    this.flush();
    if (offsetBytes !== this.lastEndBytes || 2 * lengthBytes > MAX_BATCH_BYTES) {
      this.lastEndBytes = offsetBytes + lengthBytes;
      this.issue({ offsetBytes, data: input.take(lengthBytes), writes: [running] });
      return;
    }
    this.buffer = this.spares.pop() ?? Buffer.allocUnsafeSlow(MAX_BATCH_BYTES);
    input.takeInto(this.buffer, 0, lengthBytes);
    this.offsetBytes = offsetBytes;
    this.lengthBytes = lengthBytes;
    this.writes = [running];
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Sends what the batch holds to the store now. */
  flush(): void {
    const buffer = this.buffer;
    if (buffer === undefined) return;
    this.buffer = undefined;
    this.lastEndBytes = this.offsetBytes + this.lengthBytes;
    const data = buffer.subarray(0, this.lengthBytes);
    this.issue({ offsetBytes: this.offsetBytes, data, batchBuffer: buffer, writes: this.writes });
    this.writes = [];
  }

  /** Takes a batch buffer back once the store has finished with the write made from it. */
  recycle(write: StoreWrite<T>): void {
    if (write.batchBuffer !== undefined && this.spares.length < SPARE_BATCH_BUFFERS) {
      this.spares.push(write.batchBuffer);
    }
  }
}
