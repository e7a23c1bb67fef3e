// The jobs view: a form that starts a global snap copy (GSC), the list of jobs, and for the
// selected job (#/jobs/ID) its timeline: every source-side step 500-524, each done (with its
// duration), running or not reached, with its note. The selected job is followed live over the
// API's server-sent events until it ends or the view changes; states and step marks are written
// in words, so the view reads without colour. The API checks a request as the CLI does and its
// refusal is shown as it comes, "CODE: message".

import { ApiError, apiEvents, apiGet, apiPost } from "./api-client.js";
import { el, facts, formatCount, formatPercent, formatSince, shareBar, table } from "./dom.js";
import { formatEta, formatRate } from "./pairs-view.js";

/**
 * The GSC steps by the patent's numbers, as GSC_STEPS in src/gsc/job-service.ts names them (the
 * page cannot import TypeScript); the dashboard test checks the two lists match.
 */
export const GSC_STEPS = {
  500: "receive",
  502: "verify",
  506: "snap source to intermediate",
  508: "establish pair",
  510: "transfer",
  512: "receive status",
  514: "check success",
  516: "target intermediate?",
  518: "send snap to target",
  520: "receive snap status",
  522: "terminate pair",
  524: "report result",
};

const ENDED_STATES = ["succeeded", "failed", "cancelled"];

const COLUMNS = ["Job", "Request", "State", "Step", "Progress", "Rate", "ETA", "Result"];

/** The request in the text form the CLI takes: "P, P', S[, S']". */
export function requestText(request) {
  const parameters = [request.source, request.intermediate, request.target];
  if (request.targetIntermediate !== undefined) parameters.push(request.targetIntermediate);
  return parameters.join(", ");
}

/** "510 transfer". */
function stepText(step) {
  return `${step} ${GSC_STEPS[step] ?? "unknown step"}`;
}

/** "OK", "CODE: message", or "none yet" while the job runs. */
function resultText(job) {
  if (job.resultCode === undefined) return "none yet";
  return job.resultMessage === undefined
    ? job.resultCode
    : `${job.resultCode}: ${job.resultMessage}`;
}

function isEnded(job) {
  return ENDED_STATES.includes(job.state);
}

/**
 * How far the job got. From step 510 the copy's work: the tracks sent of those that differed
 * ("1,073 of 1,318 tracks sent (81%)"), so that a copy of a few tracks of a large extent counts
 * from 0% to 100% too; before it, the tracks of the extent, none done yet.
 */
export function jobProgress(progress) {
  const { tracksToSend, tracksSent } = progress;
  if (tracksToSend === undefined || tracksSent === undefined) {
    const { tracksDone, tracksTotal } = progress;
    const words = `${formatCount(tracksDone)} of ${formatCount(tracksTotal)} tracks`;
    const share = formatPercent(tracksDone, tracksTotal);
    return { done: tracksDone, total: tracksTotal, words: `${words} (${share})` };
  }
  if (tracksToSend === 0) return { done: 1, total: 1, words: "no track differed: none to send" };
  const words = `${formatCount(tracksSent)} of ${formatCount(tracksToSend)} tracks sent`;
  const share = formatPercent(tracksSent, tracksToSend);
  return { done: tracksSent, total: tracksToSend, words: `${words} (${share})` };
}

function progressBar(job) {
  const { done, total, words } = jobProgress(job.progress);
  return shareBar(done, total, words);
}

function eta(job) {
  if (job.progress.etaSeconds !== null) return formatEta(job.progress.etaSeconds);
  return isEnded(job) ? "none" : "unknown";
}

function stateWord(job) {
  return el("span", { class: `state state-${job.state}`, text: job.state });
}

function jobRow(job, selected) {
  const link = el("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, text: job.id });
  if (job.id === selected) link.setAttribute("aria-current", "true");
  return [
    link,
    el("code", { class: "request", text: requestText(job.request) }),
    stateWord(job),
    stepText(job.step),
    progressBar(job),
    formatRate(job.progress.rateBytesPerSecond),
    eta(job),
    resultText(job),
  ];
}

function jobsList(jobs, selected) {
  if (jobs.length === 0) {
    return el("p", { class: "empty", text: "No jobs yet: start a global snap copy above." });
  }
  const count = jobs.length === 1 ? "1 job" : `${jobs.length} jobs`;
  const caption = `${count}, newest first; choose a job to see its steps and follow it live`;
  return table(
    caption,
    COLUMNS,
    jobs.map((job) => jobRow(job, selected)),
    { cards: true },
  );
}

/** A step's duration: "120 ms" under a second, else "12 s", "4 min 5 s". */
function duration(record) {
  const ms = Math.max(0, Date.parse(record.endedAt) - Date.parse(record.startedAt));
  return ms < 1000 ? `${ms} ms` : formatEta(ms / 1000);
}

/**
 * How far a step got, in words with a mark: a job that failed or was cancelled did so in its
 * last step, which is marked so rather than done.
 */
function stepStatus(job, record) {
  if (record === undefined) return { kind: "unreached", mark: "○", word: "not reached" };
  const last = job.steps.at(-1) === record;
  if (last && (job.state === "failed" || job.state === "cancelled")) {
    return { kind: "failed", mark: "✕", word: `${job.state} after ${duration(record)}` };
  }
  if (record.endedAt === undefined) return { kind: "running", mark: "▶", word: "running" };
  return { kind: "done", mark: "✓", word: `done in ${duration(record)}` };
}

function timeline(job) {
  const records = new Map(job.steps.map((record) => [record.step, record]));
  const items = Object.entries(GSC_STEPS).map(([step, name]) => {
    const record = records.get(Number(step));
    const { kind, mark, word } = stepStatus(job, record);
    return el(
      "li",
      { class: `step step-${kind}` },
      el("span", { class: "step-mark", "aria-hidden": "true", text: mark }),
      el("span", { class: "step-name", text: `${step} ${name}` }),
      el("span", { class: "step-status", text: word }),
      record?.note === undefined ? "" : el("span", { class: "step-note", text: record.note }),
    );
  });
  return el("ol", { class: "timeline", "aria-label": `Steps of job ${job.id}` }, ...items);
}

/** One "Resumed" fact each time the job went on after a restart or a link failure. */
function resumedFacts(job) {
  return (job.resumed ?? []).map((entry) => [
    "Resumed",
    `from step ${entry.fromStep} ${GSC_STEPS[entry.fromStep]} after a ${entry.after}, ${formatSince(entry.at)}`,
  ]);
}

function jobDetail(job) {
  return [
    el("h2", { id: "detail-title", text: `Job ${job.id}` }),
    facts([
      ["Request", el("code", { class: "request", text: requestText(job.request) })],
      ["State", stateWord(job)],
      ["Step", stepText(job.step)],
      ["Progress", progressBar(job)],
      ["Rate", formatRate(job.progress.rateBytesPerSecond)],
      ["ETA", eta(job)],
      ["Created", formatSince(job.createdAt)],
      ["Ended", job.endedAt === undefined ? "not yet" : formatSince(job.endedAt)],
      ["Result", el("span", { class: "result", text: resultText(job) })],
      ...resumedFacts(job),
    ]),
    el("h3", { text: "Steps" }),
    timeline(job),
  ];
}

function field(name, label, { value = "", hint }) {
  const id = `gsc-${name}`;
  return el(
    "div",
    { class: "field" },
    el("label", { for: id, text: label }),
    el("input", { id, name, value, autocomplete: "off", spellcheck: "false" }),
    el("span", { class: "hint", text: hint }),
  );
}

/** The request the form asks for; S' and the bandwidth only when given. */
function formRequest(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const request = {
    source: value("source"),
    intermediate: value("intermediate"),
    target: value("target"),
  };
  if (value("targetIntermediate") !== "") request.targetIntermediate = value("targetIntermediate");
  const bandwidth = value("bandwidth");
  if (bandwidth !== "") {
    // As `gsnap gsc --bandwidth` checks it before asking the API, with the same message.
    if (!Number.isFinite(Number(bandwidth))) {
      throw new ApiError(
        400,
        "REQUEST_INVALID",
        `Cannot start a GSC: bandwidth "${bandwidth}" is not a number; give MB/s, like 200`,
      );
    }
    request.bandwidthMBps = Number(bandwidth);
  }
  return request;
}

function startForm() {
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const form = el(
    "form",
    { class: "gsc-form", "aria-labelledby": "gsc-title", novalidate: true },
    el("h2", { id: "gsc-title", text: "Start a global snap copy" }),
    field("source", "P: source extents", { hint: "VOLSER:C.H-C.H[+C.H-C.H...]" }),
    field("intermediate", "P': intermediate", { value: "*", hint: "a VOLSER, or * to allocate" }),
    field("target", "S: target", { hint: "SERIAL.SSID.VOLSER[:C.H-C.H...]" }),
    field("targetIntermediate", "S': target intermediate (optional)", {
      value: "*",
      hint: "a VOLSER, * to allocate, or empty for none",
    }),
    field("bandwidth", "Bandwidth cap in MB/s (optional)", { hint: "empty for no cap" }),
    el("button", { type: "submit", text: "Start GSC" }),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      const job = await apiPost("/v1/gsc", formRequest(form));
      // The hash change draws the view again with the new job selected and followed.
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (caught) {
      error.textContent =
        caught instanceof ApiError ? `${caught.code}: ${caught.message}` : String(caught);
      error.hidden = false;
    }
  });
  return form;
}

/**
 * Draws the view into `view` with `selected` (a job id, or undefined) shown and followed live;
 * returns a function that stops following it.
 */
export async function jobsView(view, selected) {
  const jobs = await apiGet("/v1/jobs");
  const shown =
    selected === undefined ? undefined : await apiGet(`/v1/jobs/${encodeURIComponent(selected)}`);
  const list = el("div", { class: "jobs" }, jobsList(jobs, selected));
  const detail = el("section", { class: "job-detail", "aria-labelledby": "detail-title" });
  const status = el("p", { class: "hint" });
  view.replaceChildren(
    el("h1", { text: "Jobs" }),
    startForm(),
    el("h2", { text: "All jobs" }),
    list,
  );
  if (shown === undefined) return () => {};
  detail.append(...jobDetail(shown), status);
  view.append(detail);
  if (isEnded(shown)) {
    status.textContent = `Job ${shown.id} has ended.`;
    return () => {};
  }
  const following = new AbortController();
  status.textContent = `Following job ${shown.id} live until it ends.`;
  const show = (job) => {
    const index = jobs.findIndex((other) => other.id === job.id);
    if (index >= 0) jobs[index] = job;
    list.replaceChildren(jobsList(jobs, selected));
    detail.replaceChildren(...jobDetail(job), status);
    if (isEnded(job)) status.textContent = `Job ${job.id} has ended.`;
  };
  let last = shown;
  apiEvents(`/v1/jobs/${encodeURIComponent(shown.id)}/events`, {
    signal: following.signal,
    onEvent: (event) => {
      if (event.name !== "job") return;
      last = JSON.parse(event.data);
      show(last);
    },
  })
    .then(() => {
      if (isEnded(last) || following.signal.aborted) return;
      status.className = "error";
      status.textContent =
        `The API stopped sending job ${shown.id} before it ended. ` +
        "Showing its last state; choose the job again to follow it.";
    })
    .catch((error) => {
      // The last state stays shown, marked as old; the next view change reports a lost token.
      status.className = "error";
      status.textContent = `Stopped following job ${shown.id}: ${error.message}. Showing its last state.`;
    });
  return () => following.abort();
}
