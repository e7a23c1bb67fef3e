// The track receiver's answers when the store fails in a way it does not know (a fault, not a
// GsnapError): the peer gets NACK (I/O error) and the process goes on.

import { describe, expect, it } from "vitest";
import { NackReason } from "../link/frame-types.js";
import type { Store } from "../store/store.js";
import { TrackStorer } from "./track-receiver.js";

const TRACK = 4096;

/** A store that knows one volume and fails every change with a plain Error. */
function faultyStore(): Store {
  return {
    showVolume: () => ({ trackCount: 10, trackSizeBytes: TRACK }),
    writeTracks: async () => {
      throw new TypeError("a bug in the store");
    },
    zero: async () => {
      throw new TypeError("a bug in the store");
    },
  } as unknown as Store;
}

describe("TrackStorer", () => {
  it("answers NACK (I/O error) when the store fails with an unknown error", async () => {
    const storer = new TrackStorer(faultyStore());
    const data = Buffer.alloc(TRACK, 1);
    const replies = await Promise.all([
      storer.put({
        type: "TRACK_DATA",
        requestId: 1,
        volser: "V",
        trackNumber: 1,
        checksum: 0n,
        data,
      }),
      storer.put({ type: "TRACK_ZERO", requestId: 2, volser: "V", trackNumber: 5 }),
    ]);
    expect(replies).toEqual([
      { type: "NACK", reason: NackReason.IO_ERROR },
      { type: "NACK", reason: NackReason.IO_ERROR },
    ]);
  });
});
