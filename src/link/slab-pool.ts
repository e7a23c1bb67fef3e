// Slabs of one size kept for reuse: a receiver copies each TRACK_BATCH payload (1-4 MiB, spread
// over many 64 KiB socket reads) into one slab, and the sender reads each batch of tracks from the
// store into one. Allocating a fresh buffer for every batch makes V8's collector chase gigabytes
// of external memory during a copy; a slab goes back to the pool when its batch is answered.

import assert from "node:assert/strict";

export class SlabPool {
  private readonly spares: Buffer[] = [];

  /**
   * @param slabBytes the size of every slab
   * @param maxSpares slabs kept while unused; more are left to the collector
   */
  constructor(
    readonly slabBytes: number,
    private readonly maxSpares: number,
  ) {
    assert.ok(slabBytes > 0 && maxSpares >= 0);
  }

  /** A slab, reused when one is spare. Its contents are whatever it last held. */
  take(): Buffer {
    return this.spares.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
  }

  /** Hands a slab back once nothing refers to it any more. */
  give(slab: Buffer): void {
    assert.equal(slab.length, this.slabBytes, "a slab comes back whole");
    if (this.spares.length < this.maxSpares) this.spares.push(slab);
  }

  get spareCount(): number {
    return this.spares.length;
  }
}
