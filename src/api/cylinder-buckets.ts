// Groups a volume's cylinders into at most MAX_BUCKETS buckets of equal size (the last may be
// shorter), for the dashboard's picture of which cylinders hold data. Pure arithmetic: the route
// asks the store how many tracks of each bucket are mapped.

import assert from "node:assert";

/**
 * A picture of more than 512 cells is wider than any screen shows one by one, and 512 buckets keep
 * the reply of even a full 3390-A (1,182,006 cylinders, 2,309 to a bucket) near 40 KiB.
 */
export const MAX_BUCKETS = 512;

export interface CylinderBucket {
  readonly firstCylinder: number;
  readonly cylinderCount: number;
}

/** The buckets that cover cylinders 0 to `cylinders - 1`, in order, without gaps. */
export function cylinderBuckets(cylinders: number): CylinderBucket[] {
  assert(Number.isInteger(cylinders), "a cylinder count is an integer");
  assert(cylinders > 0, "a volume has at least one cylinder");
  const perBucket = Math.ceil(cylinders / MAX_BUCKETS);
  const buckets: CylinderBucket[] = [];
  for (let first = 0; first < cylinders; first += perBucket) {
    buckets.push({ firstCylinder: first, cylinderCount: Math.min(perBucket, cylinders - first) });
  }
  assert(buckets.length <= MAX_BUCKETS, "no more than MAX_BUCKETS buckets");
  return buckets;
}
