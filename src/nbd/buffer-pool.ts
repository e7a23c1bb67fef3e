// Read buffers kept for reuse, per connection. A copier reads the same size again and again
// (nbdcopy 256 KiB, qemu-img up to 2 MiB); allocating each anew costs page faults and makes the
// garbage collector chase gigabytes of external memory, which measurably slowed sequential reads.

/** Buffers kept per size: as many as a connection may have in flight (MAX_IN_FLIGHT_REQUESTS)... */
export const SPARE_BUFFERS_PER_SIZE = 64;

/** ...but no more than 16 MiB of them per size: 64 reads of 256 KiB (nbdcopy's), 8 of 2 MiB. */
export const MAX_SPARE_BYTES_PER_SIZE = 16 * 1024 * 1024;

/**
 * A read's buffer starts with room for its reply header (transmission.ts), the header at its end
 * right before the data: 64 bytes keep the data as aligned as the buffer (a 28-byte offset made
 * the copies into it and the hashing of it measurably slower). The byte limit counts the data
 * only, so that the 64 buffers of nbdcopy's 256 KiB reads are all kept (one short, and a buffer
 * would be allocated and dropped on every round of requests).
 */
export const HEADER_ROOM_BYTES = 64;

/** Reads larger than this are rare (the maximum payload is 32 MiB) and not worth keeping. */
export const MAX_POOLED_BYTES = 4 * 1024 * 1024;

/** Sizes kept at once: a copier uses one or two; random readers of many sizes fall back to allocation. */
const MAX_SIZES = 4;

export class BufferPool {
  private readonly spares = new Map<number, Buffer[]>();

  take(lengthBytes: number): Buffer {
    return this.spares.get(lengthBytes)?.pop() ?? Buffer.allocUnsafe(lengthBytes);
  }

  /** Hands a buffer back once nothing refers to it any more (its reply has been sent). */
  give(buffer: Buffer): void {
    if (buffer.length > MAX_POOLED_BYTES || buffer.length === 0) return;
    let list = this.spares.get(buffer.length);
    if (list === undefined) {
      if (this.spares.size >= MAX_SIZES) return;
      list = [];
      this.spares.set(buffer.length, list);
    }
    const dataBytes = Math.max(buffer.length - HEADER_ROOM_BYTES, 1);
    const limit = Math.min(
      SPARE_BUFFERS_PER_SIZE,
      Math.floor(MAX_SPARE_BYTES_PER_SIZE / dataBytes),
    );
    if (list.length < limit) list.push(buffer);
  }
}
