import { describe, expect, it } from "vitest";
import { TrackLocks } from "./track-locks.js";

describe("TrackLocks", () => {
  it("runs holders of shared tracks in the order they asked, and others at once", async () => {
    const locks = new TrackLocks();
    const order: string[] = [];
    const first = await locks.acquire({ firstTrack: 0, count: 4 });
    const second = locks.acquire({ firstTrack: 3, count: 2 }).then((release) => {
      order.push("second");
      return release;
    });
    const third = locks.acquire({ firstTrack: 4, count: 1 }).then((release) => {
      order.push("third");
      release();
    });
    const apart = locks.acquire({ firstTrack: 10, count: 1 }).then((release) => {
      order.push("apart");
      release();
    });
    await apart;
    expect(order).toEqual(["apart"]);
    first();
    (await second)();
    await third;
    expect(order).toEqual(["apart", "second", "third"]);
    // Everything released: a new holder gets its tracks at once.
    (await locks.acquire({ firstTrack: 0, count: 11 }))();
  });
});
