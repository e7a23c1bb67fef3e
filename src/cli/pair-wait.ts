// `gsnap pair establish|resume --wait`: polls the pair until it is duplex, drawing its progress on
// stderr, and fails if the pair is suspended before the copy finished.
//
// On a terminal one line is redrawn in place; elsewhere (a log, a CI job) a plain line is printed
// at most every PLAIN_INTERVAL_MS, so that a long copy does not flood the log.

import { GsnapError } from "../errors/gsnap-error.js";
import type { PairInfo } from "../pprc/pair-service.js";
import { type ApiTarget, callApi } from "./api-client.js";
import { stateText } from "./pair-row.js";
import { formatProgressLine } from "./progress-line.js";

/**
 * Polls this often: a copy moves visibly in half a second, and one GET per half second costs the
 * server nothing. There is no limit on the wait: an initial copy of a large volume takes hours,
 * and the operator stops waiting with Ctrl-C (the copy goes on).
 */
export const POLL_INTERVAL_MS = 500;
/** Without a terminal, a progress line at most this often. */
export const PLAIN_INTERVAL_MS = 2_000;

/** Where progress goes: process.stderr, or a fake of it in tests. */
export interface ProgressOutput {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface WaitOptions {
  readonly output?: ProgressOutput;
  readonly pollIntervalMs?: number;
}

/** Waits until the pair of `volser` is duplex and answers it then. */
export async function waitForDuplex(
  target: ApiTarget,
  volser: string,
  options: WaitOptions = {},
): Promise<PairInfo> {
  const output = options.output ?? process.stderr;
  const tty = output.isTTY === true;
  let printedAtMs = Number.NEGATIVE_INFINITY;
  for (;;) {
    const pair = await callApi<PairInfo>(target, {
      method: "GET",
      path: `/v1/pairs/${encodeURIComponent(volser)}`,
    });
    const done = pair.state === "duplex" || pair.state === "suspended";
    if (tty) output.write(`\r${progressLine(pair)}\x1b[K${done ? "\n" : ""}`);
    else if (done || Date.now() - printedAtMs >= PLAIN_INTERVAL_MS) {
      output.write(`${progressLine(pair)}\n`);
      printedAtMs = Date.now();
    }
    if (pair.state === "duplex") return pair;
    if (pair.state === "suspended") {
      throw new GsnapError(
        "PAIR_STATE_INVALID",
        `Pair ${volser} ${stateText(pair)} before the copy finished: ` +
          `resume it with gsnap pair resume ${volser}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? POLL_INTERVAL_MS));
  }
}

/**
 * The copy's progress: of the tracks it set out to send (`tracksToCopy`), not of the volume's, so
 * that a copy of a few tracks of a large volume counts from 0% to 100% too. A secondary, which
 * does not know its backlog, shows only its state.
 */
export function progressLine(pair: PairInfo): string {
  if (pair.tracksOutOfSync === null || pair.tracksToCopy === null) {
    return `${pair.volser} ${stateText(pair)}`;
  }
  return formatProgressLine({
    label: pair.volser,
    done: pair.tracksToCopy - pair.tracksOutOfSync,
    total: pair.tracksToCopy,
    unit: "tracks",
    rateBytesPerSecond: pair.rateBytesPerSecond,
    etaSeconds: pair.etaSeconds,
  });
}
