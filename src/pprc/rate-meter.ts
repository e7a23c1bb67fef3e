// Bytes per second over the last few seconds, for a pair's or a job's progress. Pure: the caller
// passes the time.

/** The window the rate covers: long enough to smooth bursts, short enough to follow a change. */
export const RATE_WINDOW_MS = 5_000;

export class RateMeter {
  private total = 0;
  /** [time, total] pairs, oldest first, at most one per 100 ms. */
  private readonly samples: [number, number][] = [];

  /** Bytes moved in all. */
  get bytes(): number {
    return this.total;
  }

  add(bytes: number, nowMs: number): void {
    this.total += bytes;
    const last = this.samples.at(-1);
    if (last !== undefined && nowMs - last[0] < 100) last[1] = this.total;
    else this.samples.push([nowMs, this.total]);
    while (this.samples.length > 2 && this.samples[1][0] < nowMs - RATE_WINDOW_MS) {
      this.samples.shift();
    }
  }

  /** Bytes per second over the window ending now; 0 when nothing moved in it. */
  rate(nowMs: number): number {
    const last = this.samples.at(-1);
    if (last === undefined || last[0] < nowMs - RATE_WINDOW_MS) return 0;
    const first = this.samples.find((sample) => sample[0] >= nowMs - RATE_WINDOW_MS) ?? last;
    // The first sample in the window marks its start; bytes before it are not in the window.
    const start = this.samples[this.samples.indexOf(first) - 1] ?? first;
    const seconds = (nowMs - start[0]) / 1000;
    return seconds <= 0 ? 0 : (last[1] - start[1]) / seconds;
  }
}
