// The pairs view: every replication pair this system is part of, primary or secondary, with its
// mode, its state in words (a suspended pair says why), the tracks still out of sync, and the
// copy's rate and time to go. States are written out (never a colour alone), and a pending
// primary's progress is a bar with its share written beside it. The list is fetched again every
// REFRESH_INTERVAL_MS while the view is shown, as copies advance and pairs suspend on their own.
// A GSC job's pair is marked as the job's copy, linked to the job when this system runs it.

import { apiGet } from "./api-client.js";
import { el, formatCount, formatPercent, formatSince, shareBar, table } from "./dom.js";
import { jobMark } from "./job-mark.js";

/**
 * The rate is averaged over the last few seconds (docs/pairs.md), so a shorter interval would
 * show nothing new; 2 s lets an operator watch an initial copy move, at one small GET each time.
 */
const REFRESH_INTERVAL_MS = 2_000;

const ESTABLISH_COMMAND = "gsnap pair establish VOLSER SERIAL.SSID.VOLSER --mode sync";

const COLUMNS = [
  "VOLSER",
  "Role",
  "Primary",
  "Secondary",
  "Mode",
  "State",
  "Out of sync",
  "Rate",
  "ETA",
  "Since",
];

/** "suspended (link failure)", or the state alone when it has no reason. */
export function stateWords(pair) {
  return pair.reason === undefined ? pair.state : `${pair.state} (${pair.reason})`;
}

/** "sync, critical", "sync" or "copy". */
export function modeWords(pair) {
  return pair.critical ? `${pair.mode}, critical` : pair.mode;
}

/**
 * Bytes per second as "12.5 MB/s" (10^6 B/s, the unit of the GSC bandwidth cap and of the CLI);
 * "idle" when nothing moves.
 */
export function formatRate(bytesPerSecond) {
  return bytesPerSecond > 0 ? `${(bytesPerSecond / 1e6).toFixed(1)} MB/s` : "idle";
}

/** Seconds to go as "45 s", "3 min 20 s" or "2 h 5 min"; "<1 s" for less than a second. */
export function formatEta(seconds) {
  if (seconds < 1) return "<1 s";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

/**
 * How far a pending primary's copy got: of the tracks it set out to send (tracksToCopy), not of
 * the volume's, so that a copy of a few tracks of a large volume (a GSC's) counts up from 0% as
 * well. Words beside the bar: "245 of 1,318 tracks to go; 81% copied".
 */
export function copyProgress(pair) {
  const { tracksOutOfSync, tracksToCopy } = pair;
  if (tracksToCopy === 0) return { done: 1, total: 1, words: "nothing to copy" };
  const copied = tracksToCopy - tracksOutOfSync;
  const words =
    `${formatCount(tracksOutOfSync)} of ${formatCount(tracksToCopy)} tracks to go; ` +
    `${formatPercent(copied, tracksToCopy)} copied`;
  return { done: copied, total: tracksToCopy, words };
}

/**
 * What the secondary lacks. A secondary does not know (null); a pending primary shows how much
 * of the copy is done as a bar with the same in words.
 */
function outOfSync(pair) {
  if (pair.tracksOutOfSync === null) return "not known here (the primary counts them)";
  if (pair.role !== "primary" || pair.state !== "pending") {
    return `${formatCount(pair.tracksOutOfSync)} tracks`;
  }
  const { done, total, words } = copyProgress(pair);
  return shareBar(done, total, words);
}

/** SERIAL.SSID.VOLSER, allowed to wrap after its dots (and nowhere else) in a narrow column. */
function remoteVolume(name) {
  const parts = name.split(".");
  return el("code", {}, ...parts.flatMap((part, i) => (i === 0 ? [part] : [".", el("wbr"), part])));
}

function eta(pair) {
  if (pair.etaSeconds !== null) return formatEta(pair.etaSeconds);
  return pair.state === "pending" ? "unknown" : "none";
}

function pairRow(pair, serial) {
  const volser = el("code", { text: pair.volser });
  return [
    pair.job === undefined
      ? volser
      : el("span", {}, volser, " ", jobMark(pair.job, { serial, words: "copy of job" })),
    pair.role,
    remoteVolume(pair.primary),
    remoteVolume(pair.secondary),
    modeWords(pair),
    el("span", { class: `state state-${pair.state}`, text: stateWords(pair) }),
    outOfSync(pair),
    formatRate(pair.rateBytesPerSecond),
    eta(pair),
    formatSince(pair.since),
  ];
}

function pairsList(pairs, serial) {
  if (pairs.length === 0) {
    return [
      el(
        "p",
        { class: "empty" },
        "No pairs. Establish one with ",
        el("code", { text: ESTABLISH_COMMAND }),
      ),
    ];
  }
  const count = pairs.length === 1 ? "1 pair" : `${pairs.length} pairs`;
  const sorted = [...pairs].sort((a, b) => a.volser.localeCompare(b.volser));
  return [
    table(
      `${count} of this system's volumes with remote ones`,
      COLUMNS,
      sorted.map((pair) => pairRow(pair, serial)),
      {
        cards: true,
      },
    ),
  ];
}

/** Draws the view into `view`; returns a function that stops its refreshing. */
export async function pairsView(view) {
  const [pairs, system] = await Promise.all([apiGet("/v1/pairs"), apiGet("/v1/system")]);
  const list = el("div", { class: "pairs" }, ...pairsList(pairs, system.serial));
  const refreshed = `Refreshed every ${REFRESH_INTERVAL_MS / 1000} s while shown.`;
  const status = el("p", { class: "hint", text: refreshed });
  view.replaceChildren(el("h1", { text: "Pairs" }), list, status);
  let stopped = false;
  const timer = setInterval(async () => {
    try {
      const pairs = await apiGet("/v1/pairs");
      if (stopped) return;
      list.replaceChildren(...pairsList(pairs, system.serial));
      status.className = "hint";
      status.textContent = refreshed;
    } catch (error) {
      if (stopped) return;
      // The last list stays shown, marked as old; the next view change reports a lost token.
      status.className = "error";
      status.textContent = `Could not refresh the pairs: ${error.message}. Showing the last list.`;
    }
  }, REFRESH_INTERVAL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
