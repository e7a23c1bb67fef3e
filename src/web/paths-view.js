// The paths view: every replication path from a local subsystem to a remote one, its state in
// words, and each of its links with its state, the reason a failed link gives, and since when.
// States are written out (never a colour alone). The list is fetched again every
// REFRESH_INTERVAL_MS while the view is shown, as links fail and reconnect on their own.

import { apiGet } from "./api-client.js";
import { el, formatSince, table } from "./dom.js";

/**
 * Links are PINGed every 5 s and retried after at most 10 s (docs/paths.md); 3 s shows a change
 * soon after it happens, and one small GET that often costs the server nothing.
 */
const REFRESH_INTERVAL_MS = 3_000;

const ESTABLISH_COMMAND = "gsnap path establish --ssid ... --to SERIAL.SSID --link HOST:PORT";

/** What the path's state rests on, e.g. "1 of 2 links established". */
export function linksUp(path) {
  const up = path.links.filter((link) => link.state === "established").length;
  const count = path.links.length;
  return `${up} of ${count} ${count === 1 ? "link" : "links"} established`;
}

function stateText(state) {
  return el("span", { class: `state state-${state}`, text: state });
}

function pathSection(path) {
  const remote = `${path.remoteSerial}.${path.remoteSsid}`;
  const rows = path.links.map((link) => [
    el("code", { text: link.address }),
    stateText(link.state),
    link.reason ?? "none",
    formatSince(link.since),
  ]);
  return el(
    "section",
    { class: "path", "data-path": `${path.ssid}>${remote}` },
    el("h2", {}, el("code", { text: path.ssid }), " \u2192 ", el("code", { text: remote })),
    el(
      "p",
      { class: "path-state" },
      el("strong", { text: "State: " }),
      stateText(path.state),
      ` (${linksUp(path)})`,
    ),
    table(
      `Links of the path from ${path.ssid} to ${remote}`,
      ["Address", "State", "Reason", "Since"],
      rows,
      { cards: true },
    ),
  );
}

function pathsList(paths) {
  if (paths.length === 0) {
    return [
      el(
        "p",
        { class: "empty" },
        "No paths. Establish one with ",
        el("code", { text: ESTABLISH_COMMAND }),
      ),
    ];
  }
  const count = paths.length === 1 ? "1 path" : `${paths.length} paths`;
  return [
    el("p", { class: "hint", text: `${count} from this system's subsystems to remote ones.` }),
    ...paths.map(pathSection),
  ];
}

/** Draws the view into `view`; returns a function that stops its refreshing. */
export async function pathsView(view) {
  const list = el("div", { class: "paths" }, ...pathsList(await apiGet("/v1/paths")));
  const status = el("p", {
    class: "hint",
    text: `Refreshed every ${REFRESH_INTERVAL_MS / 1000} s while shown.`,
  });
  view.replaceChildren(el("h1", { text: "Paths" }), list, status);
  let stopped = false;
  const timer = setInterval(async () => {
    try {
      const paths = await apiGet("/v1/paths");
      if (stopped) return;
      list.replaceChildren(...pathsList(paths));
      status.className = "hint";
      status.textContent = `Refreshed every ${REFRESH_INTERVAL_MS / 1000} s while shown.`;
    } catch (error) {
      if (stopped) return;
      // The last list stays shown, marked as old; the next view change reports a lost token.
      status.className = "error";
      status.textContent = `Could not refresh the paths: ${error.message}. Showing the last list.`;
    }
  }, REFRESH_INTERVAL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
