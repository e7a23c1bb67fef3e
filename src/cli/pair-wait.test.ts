import { afterEach, describe, expect, it } from "vitest";
import type { PairInfo } from "../pprc/pair-service.js";
import { type ApiUnderTest, startApi, stopApis, TOKEN } from "../testing/api-harness.js";
import { examplePair } from "../testing/memory-pairs.js";
import { progressLine, waitForDuplex } from "./pair-wait.js";

afterEach(stopApis);

/**
 * A stderr that records what is written and moves the pair through `states`: on a terminal one
 * state after each line, elsewhere (where lines are few) one every few milliseconds once the first
 * line is out.
 */
function scripted(api: ApiUnderTest, isTTY: boolean, states: Partial<PairInfo>[]) {
  const written: string[] = [];
  const step = () => {
    const next = states.shift();
    if (next !== undefined) api.pairs.setPair({ ...api.pairs.show("VOL001"), ...next });
    return next !== undefined;
  };
  const output = {
    isTTY,
    write(text: string) {
      written.push(text);
      if (isTTY) step();
      else if (written.length === 1) {
        const timer = setInterval(() => step() || clearInterval(timer), STEP_MS);
      }
    },
  };
  return { written, output };
}

/** Far below PLAIN_INTERVAL_MS, so that a whole script runs between two plain lines. */
const STEP_MS = 5;

const COPYING = examplePair("VOL001", {
  state: "pending",
  tracksTotal: 100,
  tracksOutOfSync: 100,
  tracksToCopy: 100,
});

describe("waitForDuplex", () => {
  it("redraws one line on a terminal and ends it when the pair is duplex", async () => {
    const api = await startApi();
    api.pairs.setPair(COPYING);
    const { written, output } = scripted(api, true, [
      { tracksOutOfSync: 48, rateBytesPerSecond: 432e6, etaSeconds: 12 },
      { state: "duplex", tracksOutOfSync: 0, rateBytesPerSecond: 0, etaSeconds: null },
    ]);
    const target = { url: api.baseUrl, token: TOKEN };
    const pair = await waitForDuplex(target, "VOL001", { output, pollIntervalMs: 1 });
    expect(pair.state).toBe("duplex");
    expect(written).toEqual([
      "\rVOL001 [....................]  0%  0/100 tracks\x1b[K",
      "\rVOL001 [##########..........]  52%  52/100 tracks  432 MB/s  ETA 12 s\x1b[K",
      "\rVOL001 [####################]  100%  100/100 tracks\x1b[K\n",
    ]);
  });

  it("prints a plain line at most every 2 s elsewhere, and the last one", async () => {
    const api = await startApi();
    api.pairs.setPair(COPYING);
    const { written, output } = scripted(api, false, [
      { tracksOutOfSync: 90 },
      { tracksOutOfSync: 80 },
      { tracksOutOfSync: 70 },
      { state: "duplex", tracksOutOfSync: 0 },
    ]);
    await waitForDuplex({ url: api.baseUrl, token: TOKEN }, "VOL001", {
      output,
      pollIntervalMs: 1,
    });
    expect(written).toEqual([
      "VOL001 [....................]  0%  0/100 tracks\n",
      "VOL001 [####################]  100%  100/100 tracks\n",
    ]);
  });

  it("refuses with PAIR_STATE_INVALID when the pair is suspended, saying how to resume", async () => {
    const api = await startApi();
    api.pairs.setPair({ ...COPYING, state: "suspended", reason: "secondary error" });
    const { output } = scripted(api, false, []);
    await expect(
      waitForDuplex({ url: api.baseUrl, token: TOKEN }, "VOL001", { output }),
    ).rejects.toMatchObject({
      code: "PAIR_STATE_INVALID",
      message:
        "Pair VOL001 suspended (secondary error) before the copy finished: " +
        "resume it with gsnap pair resume VOL001",
    });
  });

  it("gives up with PAIR_NOT_FOUND when the pair is terminated while waiting", async () => {
    const api = await startApi();
    await expect(
      waitForDuplex({ url: api.baseUrl, token: TOKEN }, "VOL001", {
        output: { write: () => true },
      }),
    ).rejects.toMatchObject({ code: "PAIR_NOT_FOUND" });
  });
});

describe("progressLine", () => {
  // Issue 17: a GSC's pair on a 3390-A of 10,017 cylinders (150,255 tracks) had 1,318 tracks to
  // copy; with 245 to go it read 99% (149,010 of 150,255) instead of 81%.
  const GSC_PAIR = examplePair("#PUXY9", {
    state: "pending",
    mode: "copy",
    tracksTotal: 10_017 * 15,
    tracksToCopy: 1_318,
    tracksOutOfSync: 245,
  });

  it("counts the tracks the copy set out to send, not the volume's", () => {
    expect(progressLine(GSC_PAIR)).toBe("#PUXY9 [################....]  81%  1,073/1,318 tracks");
  });

  it("says 99%, not 100%, with one track to go, and 100% when none is left", () => {
    expect(progressLine({ ...GSC_PAIR, tracksOutOfSync: 1 })).toMatch(/ 99% {2}1,317\/1,318 /);
    expect(progressLine({ ...GSC_PAIR, state: "duplex", tracksOutOfSync: 0 })).toMatch(
      / 100% {2}1,318\/1,318 /,
    );
  });

  it("shows a secondary's state alone: it does not know what is left", () => {
    const secondary = { ...GSC_PAIR, role: "secondary" as const };
    expect(progressLine({ ...secondary, tracksOutOfSync: null, tracksToCopy: null })).toBe(
      "#PUXY9 pending",
    );
  });
});
