// Calls the gsnap API with the bearer token kept in sessionStorage (this tab only, gone when it
// closes): GETs, JSON POSTs and server-sent event streams. A 401 becomes an Unauthorized error,
// which the dashboard answers by logging out.

const TOKEN_KEY = "gsnap.token";

export class Unauthorized extends Error {}

/** Any other refusal, carrying the API's `{ code, message }`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function authorization(token = savedToken()) {
  return `Bearer ${token ?? ""}`;
}

/** Throws the refusal a non-2xx reply carries: Unauthorized for a 401, else an ApiError. */
async function refusal(response, path) {
  const isJson = (response.headers.get("content-type") ?? "").includes("json");
  const body = isJson ? await response.json() : undefined;
  if (response.status === 401) return new Unauthorized(body?.message ?? "the token was refused");
  const code = body?.code ?? `HTTP_${response.status}`;
  return new ApiError(
    response.status,
    code,
    body?.message ?? `${path} answered ${response.status}`,
  );
}

/**
 * GETs an API path with `token` (the saved one by default); JSON replies are parsed, others come
 * back as text (the Prometheus metrics).
 */
export async function apiGet(path, token = savedToken()) {
  const response = await fetch(path, {
    headers: { authorization: authorization(token), accept: "application/json, text/plain" },
    cache: "no-store",
  });
  if (!response.ok) throw await refusal(response, path);
  const isJson = (response.headers.get("content-type") ?? "").includes("json");
  return isJson ? response.json() : response.text();
}

/** POSTs `body` as JSON to an API path with the saved token; answers the parsed JSON reply. */
export async function apiPost(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: {
      authorization: authorization(),
      accept: "application/json",
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  if (!response.ok) throw await refusal(response, path);
  return response.json();
}

/**
 * Splits the text of a server-sent event stream into its events: each ends at a blank line, and
 * is its `event:` name (default "message") and its `data:` lines joined by newlines. Comments
 * (lines starting with ":", the server's keep-alives) and events without data are dropped.
 * Answers the events and the `rest`: the text of an event not yet ended, to prepend to the next.
 */
export function parseEventStream(text) {
  const blocks = text.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  const events = [];
  for (const block of blocks) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (data.length > 0) events.push({ name, data: data.join("\n") });
  }
  return { events, rest };
}

/**
 * Follows a server-sent event stream with the saved token, calling `onEvent({ name, data })` for
 * each event, until the server ends it or `signal` aborts. EventSource cannot send the bearer
 * token, so this reads a fetch's streamed body. Resolves when the stream ends; a refusal throws as
 * apiGet's do, and an abort resolves quietly.
 */
export async function apiEvents(path, { signal, onEvent }) {
  let response;
  try {
    response = await fetch(path, {
      headers: { authorization: authorization(), accept: "text/event-stream" },
      cache: "no-store",
      signal,
    });
    if (!response.ok) throw await refusal(response, path);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const { events, rest } = parseEventStream(pending + value);
      pending = rest;
      for (const event of events) onEvent(event);
    }
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  }
}
