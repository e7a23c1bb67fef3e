// How the CLI counts a GSC job's progress (issue 17): from step 510, the tracks sent of those that
// differed, not of the extent, so that a copy of a few tracks of a large extent reads right.

import { describe, expect, it } from "vitest";
import { exampleJob } from "../testing/memory-jobs.js";
import { jobProgressLine, jobTracks, resumedFields } from "./job-print.js";

const TRACK = 57_344;

/** A whole 3390-A of 10,017 cylinders as P's extent, 1,318 tracks of it differing, 245 to go. */
const COPYING = exampleJob("J000042", {
  state: "running",
  step: 510,
  progress: {
    tracksTotal: 150_255,
    tracksDone: 150_255 - 245,
    tracksToSend: 1_318,
    tracksSent: 1_073,
    bytesTotal: 1_318 * TRACK,
    bytesDone: 1_073 * TRACK,
    rateBytesPerSecond: 30e6,
    etaSeconds: 1,
  },
});

describe("a job's progress in the CLI", () => {
  it("counts the tracks sent of those that differed: 81%, not 99% of the extent", () => {
    expect(jobTracks(COPYING.progress)).toEqual({ done: 1_073, total: 1_318, unit: "tracks sent" });
    expect(jobProgressLine(COPYING)).toBe(
      "J000042 510 transfer [################....]  81%  1,073/1,318 tracks sent  " +
        "58.7 MiB/72.1 MiB  30 MB/s  ETA 1 s",
    );
  });

  it("counts the extent's tracks, none done, before the tracks to send are known", () => {
    const queued = exampleJob("J000042");
    expect(jobTracks(queued.progress)).toEqual({ done: 0, total: 150, unit: "tracks" });
    expect(jobProgressLine(queued)).toBe(
      "J000042 500 receive [....................]  0%  0/150 tracks  0 B/8.2 MiB",
    );
  });

  it("shows a copy with nothing to send as done", () => {
    const progress = { ...COPYING.progress, tracksToSend: 0, tracksSent: 0, bytesTotal: 0 };
    expect(jobProgressLine({ ...COPYING, progress, step: 512 })).toMatch(
      /^J000042 512 receive status \[#{20}\] {2}100% {2}0\/0 tracks sent/,
    );
  });
});

describe("a resumed job in the CLI", () => {
  it("tells each resumption: from which step, after what, when", () => {
    const resumed = exampleJob("J000042", {
      resumed: [
        { at: "2026-01-01T00:00:00.000Z", fromStep: 508, after: "system restart" },
        { at: "2026-01-01T00:01:00.000Z", fromStep: 510, after: "link failure" },
      ],
    });
    expect(resumedFields(resumed)).toEqual([
      [
        "Resumed",
        "from step 508 (establish pair) after a system restart at 2026-01-01T00:00:00.000Z",
      ],
      ["Resumed", "from step 510 (transfer) after a link failure at 2026-01-01T00:01:00.000Z"],
    ]);
    expect(resumedFields(exampleJob("J000043"))).toEqual([]);
  });
});
