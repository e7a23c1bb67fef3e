// The tracks that changes handed to the store but not yet settled may remap, by volume. A write
// that must read a track it covers in part asks here whether any earlier change could remap that
// track before its own change runs; when none can, it reads the track ahead of its change and
// holds nobody up (store.ts). Pure logic.

/** Tracks `first` to `last` of a volume; `last` is Infinity for all of them. */
export interface TrackSpan {
  readonly volser: string;
  readonly first: number;
  readonly last: number;
}

export class PendingTracks {
  private readonly spans = new Map<number, readonly TrackSpan[]>();
  private nextToken = 1;

  /** Records the spans of a change until `settle` with the token returned. */
  add(spans: readonly TrackSpan[]): number {
    const token = this.nextToken++;
    if (spans.length > 0) this.spans.set(token, spans);
    return token;
  }

  settle(token: number): void {
    this.spans.delete(token);
  }

  /** True when a pending change may remap any track of `span`. */
  overlaps(span: TrackSpan): boolean {
    for (const spans of this.spans.values()) {
      for (const pending of spans) {
        if (
          pending.volser === span.volser &&
          pending.first <= span.last &&
          span.first <= pending.last
        ) {
          return true;
        }
      }
    }
    return false;
  }
}

/** Every track of a volume: a change that creates, deletes or recreates it. */
export function wholeVolume(volser: string): TrackSpan {
  return { volser, first: 0, last: Number.POSITIVE_INFINITY };
}
