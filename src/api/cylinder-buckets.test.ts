import { describe, expect, it } from "vitest";
import { cylinderBuckets, MAX_BUCKETS } from "./cylinder-buckets.js";

describe("cylinderBuckets", () => {
  it("gives each cylinder a bucket of its own when there are few", () => {
    expect(cylinderBuckets(3)).toEqual([
      { firstCylinder: 0, cylinderCount: 1 },
      { firstCylinder: 1, cylinderCount: 1 },
      { firstCylinder: 2, cylinderCount: 1 },
    ]);
  });

  it.each([1, 511, 512, 513, 3_339, 65_520, 1_182_006])(
    "covers %i cylinders without gaps in at most 512 buckets",
    (cylinders) => {
      const buckets = cylinderBuckets(cylinders);
      expect(buckets.length).toBeLessThanOrEqual(MAX_BUCKETS);
      let next = 0;
      for (const bucket of buckets) {
        expect(bucket.firstCylinder).toBe(next);
        expect(bucket.cylinderCount).toBeGreaterThan(0);
        next += bucket.cylinderCount;
      }
      expect(next).toBe(cylinders);
    },
  );

  it("makes every bucket but the last the same size", () => {
    const buckets = cylinderBuckets(3_339);
    expect(buckets[0].cylinderCount).toBe(7);
    expect(new Set(buckets.slice(0, -1).map((bucket) => bucket.cylinderCount))).toEqual(
      new Set([7]),
    );
    expect(buckets.at(-1)).toEqual({ firstCylinder: 3_332, cylinderCount: 7 });
  });
});
