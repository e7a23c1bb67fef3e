// The track receiver's batching with a fake store: a track that came twice is stored once, and
// when the store fails in a way it does not know (a fault, not a GsnapError) the peer gets NACK
// (I/O error) and the process goes on.

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

  it("stores a track that came twice (resent on another connection) once, and ACKs both", async () => {
    const written: { firstTrack: number; tracks: number }[][] = [];
    const store = {
      showVolume: () => ({ trackCount: 10, trackSizeBytes: TRACK }),
      writeTracks: async (
        _volser: string,
        runs: readonly { firstTrack: number; tracks: readonly unknown[] }[],
      ) => {
        written.push(
          runs.map((run) => ({ firstTrack: run.firstTrack, tracks: run.tracks.length })),
        );
      },
    } as unknown as Store;
    const storer = new TrackStorer(store);
    const track = (requestId: number, trackNumber: number) =>
      storer.put({
        type: "TRACK_DATA",
        requestId,
        volser: "V",
        trackNumber,
        checksum: 0n,
        data: Buffer.alloc(TRACK, trackNumber),
      });
    const replies = await Promise.all([track(1, 3), track(2, 2), track(3, 3)]);
    expect(replies).toEqual([{ type: "ACK" }, { type: "ACK" }, { type: "ACK" }]);
    expect(written).toEqual([[{ firstTrack: 2, tracks: 2 }]]);
  });
});
