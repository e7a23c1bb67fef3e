// The checksum a track carries across the link: xxHash64 of its bytes, the same function the store
// uses for chunks, fast enough (about 10 GB/s) not to slow a copy down. A batch's block checksums
// travel under one xxHash32 of them all (a few KiB: well under a microsecond).

import { xxh32, xxh64 } from "@node-rs/xxhash";

export function trackChecksum(data: Buffer): bigint {
  return xxh64(data);
}

export function sumsChecksum(sums: Buffer): number {
  return xxh32(sums);
}
