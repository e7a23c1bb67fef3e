// Calls the gsnap API with the bearer token kept in sessionStorage (this tab only, gone when it
// closes). A 401 becomes an Unauthorized error, which the dashboard answers by logging out.

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

/**
 * GETs an API path with `token` (the saved one by default); JSON replies are parsed, others come
 * back as text (the Prometheus metrics).
 */
export async function apiGet(path, token = savedToken()) {
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${token ?? ""}`, accept: "application/json, text/plain" },
    cache: "no-store",
  });
  const isJson = (response.headers.get("content-type") ?? "").includes("json");
  const body = isJson ? await response.json() : await response.text();
  if (response.status === 401) throw new Unauthorized(body?.message ?? "the token was refused");
  if (!response.ok) {
    const code = body?.code ?? `HTTP_${response.status}`;
    throw new ApiError(
      response.status,
      code,
      body?.message ?? `${path} answered ${response.status}`,
    );
  }
  return body;
}
