// Locks on tracks, so that mirrored writes to the same track run one after another, in the order
// they were asked for. A caller takes the locks of all its tracks at once, synchronously, when it
// asks; so two writes that share tracks always wait in the same order and never deadlock.

import type { TrackRange } from "./track-feed.js";

export class TrackLocks {
  private readonly tails = new Map<number, Promise<void>>();

  /** Resolves, once every earlier holder of these tracks released them, with the release. */
  acquire(range: TrackRange): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const earlier: Promise<void>[] = [];
    for (let track = range.firstTrack; track < range.firstTrack + range.count; track += 1) {
      const tail = this.tails.get(track);
      if (tail !== undefined) earlier.push(tail);
      this.tails.set(track, mine);
    }
    return Promise.all(earlier).then(() => () => {
      release();
      for (let track = range.firstTrack; track < range.firstTrack + range.count; track += 1) {
        if (this.tails.get(track) === mine) this.tails.delete(track);
      }
    });
  }
}
