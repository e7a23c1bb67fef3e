// A bounded number of operations under way at once, for the benchmarks that keep I/O in flight.

/** Runs `fn` for indexes 0..count-1 with at most `depth` under way; `slot` tells the worker. */
export async function inFlight(
  count: number,
  depth: number,
  fn: (index: number, slot: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (slot: number) => {
    while (next < count) {
      const index = next;
      next += 1;
      await fn(index, slot);
    }
  };
  await Promise.all(Array.from({ length: Math.min(depth, count) }, (_, slot) => worker(slot)));
}
