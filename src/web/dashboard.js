// The dashboard's entry point: login, the header's navigation and the view the URL's #fragment
// names (#/system, #/volumes, #/volumes/VOLSER, #/paths, #/pairs, #/jobs, #/jobs/ID). Any 401 forgets the
// token and returns to login with the reason shown.

import {
  ApiError,
  apiGet,
  forgetToken,
  savedToken,
  saveToken,
  Unauthorized,
} from "./api-client.js";
import { el } from "./dom.js";
import { jobsView } from "./jobs-view.js";
import { pairsView } from "./pairs-view.js";
import { pathsView } from "./paths-view.js";
import { systemView } from "./system-view.js";
import { volumesView } from "./volumes-view.js";

/**
 * The views that refresh while shown, drawn with the item the URL names after the view (a job
 * id); each returns a function that stops it.
 */
const REFRESHING_VIEWS = {
  system: systemView,
  paths: pathsView,
  pairs: pairsView,
  jobs: jobsView,
};

const $ = (id) => document.getElementById(id);

/**
 * Stops the shown view's refreshing (the system view samples I/O rates; paths, pairs re-read; jobs
 * follows the selected job's events).
 */
let stopView = () => {};
/** Counts view changes, so that a slow view that finishes after the next one started is dropped. */
let generation = 0;

function showMessage(text) {
  $("message").textContent = text;
  $("message").hidden = text === "";
}

function showLogin(reason) {
  stopView();
  forgetToken();
  $("view").replaceChildren();
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("system-name").textContent = "";
  $("login").hidden = false;
  showMessage(reason);
  $("token").focus();
}

function route() {
  const [name = "system", item] = location.hash.replace(/^#\/?/, "").split("/");
  return { name, item: item === undefined ? undefined : decodeURIComponent(item) };
}

async function render() {
  if (savedToken() === null) return showLogin("");
  const { name, item } = route();
  const mine = ++generation;
  stopView();
  stopView = () => {};
  $("login").hidden = true;
  $("nav").hidden = false;
  $("logout").hidden = false;
  for (const link of $("nav").querySelectorAll("a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = el("div");
  try {
    if (name === "volumes") await volumesView(view, item);
    else {
      const draw = Object.hasOwn(REFRESHING_VIEWS, name) ? REFRESHING_VIEWS[name] : systemView;
      const stop = await draw(view, item);
      if (mine !== generation) return stop();
      stopView = stop;
    }
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin(`Logged out: ${error.message}.`);
    const text = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
    view.replaceChildren(el("p", { class: "error", text: `Could not load this view. ${text}` }));
  }
  if (mine !== generation) return;
  showMessage("");
  $("view").replaceChildren(...view.childNodes);
  // On a phone the detail is below the table: bring the volume or job just chosen into sight.
  if (item !== undefined) document.getElementById("detail-title")?.scrollIntoView();
}

async function logIn(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  try {
    const system = await apiGet("/v1/system", token);
    saveToken(token);
    $("token").value = "";
    $("system-name").textContent = system.serial;
  } catch (error) {
    const why = error instanceof Unauthorized ? "the API refused this token" : String(error);
    showMessage(`Cannot log in: ${why}. Check the token and try again.`);
    $("token").select();
    return;
  }
  if (location.hash === "" || location.hash === "#/") location.hash = "#/system";
  else await render();
}

async function start() {
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", () => showLogin("Logged out."));
  window.addEventListener("hashchange", render);
  if (savedToken() !== null) {
    try {
      $("system-name").textContent = (await apiGet("/v1/system")).serial;
    } catch {
      // render() below meets the same failure and reports it.
    }
  }
  await render();
}

start();
