// The REST API through the same Envoy listener that serves the console (same
// origin: no CORS). The bearer token lives in sessionStorage: gone when the tab
// closes, never sent anywhere but this origin.

const TOKEN_KEY = "modelgw.token";
let roles = null; // isSuperuser()'s answer for the current token

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
  roles = null;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  roles = null;
}

function claims() {
  const parts = token().split(".");
  if (parts.length !== 3) return {};
  try {
    return JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

/** The user the token names (its "sub"), read from the token itself; "" if none. */
export function user() {
  return String(claims().sub || "");
}

/** An API error: the HTTP status, the gRPC code name and the API's own message. */
export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The field a google.rpc.BadRequest names, for INVALID_ARGUMENT; "" if none. */
  get field() {
    for (const detail of this.details) {
      for (const violation of detail.fieldViolations || detail.field_violations || []) {
        if (violation.field) return violation.field;
      }
    }
    return "";
  }
}

const CODES = {
  3: "INVALID_ARGUMENT", 5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 14: "UNAVAILABLE", 16: "UNAUTHENTICATED",
};

async function failure(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = { message: response.statusText };
  }
  const code = CODES[body.code] || String(body.code || response.status);
  return new ApiError(response.status, code, body.message || response.statusText, body.details || []);
}

function headers(json) {
  const out = { accept: "application/json" };
  if (token()) out.authorization = `Bearer ${token()}`;
  if (json) out["content-type"] = "application/json";
  return out;
}

/** One call: resolves to the reply's JSON, rejects with an ApiError. */
export async function call(method, path, body = undefined) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);

/** A query string of the set values. */
export function query(values) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * A server stream (WatchJob, WatchJobStats): a streaming fetch, since
 * EventSource cannot send an Authorization header. Envoy sends one JSON
 * message a line; onMessage gets each. Returns a function that stops it.
 */
export function stream(path, onMessage, onError) {
  const control = new AbortController();
  (async () => {
    const response = await fetch(path, { headers: headers(false), signal: control.signal });
    if (!response.ok) throw await failure(response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) onMessage(JSON.parse(line));
      }
    }
  })().catch((error) => {
    if (error.name !== "AbortError" && onError) onError(error);
  });
  return () => control.abort();
}

/** What a person should read for an error: the API's message, and what to do. */
export function explain(error) {
  if (!(error instanceof ApiError)) return `The gateway could not be reached: ${error.message}`;
  if (error.status === 401) return "Your sign-in is missing, expired or not valid: sign in again.";
  if (error.status === 403) return `You may not do that: ${error.message}`;
  if (error.status === 404) return `Not found, or not visible to you. (${error.message})`;
  return error.message;
}

let deployment = null; // settings()'s answer, fetched once

/** /console/settings.json: the superuser claim, and the single sign-on provider if any. */
export function settings() {
  if (deployment === null) {
    deployment = fetch("/console/settings.json")
      .then((reply) => (reply.ok ? reply.json() : {}))
      .catch(() => ({}));
  }
  return deployment;
}

/**
 * Whether the token carries the deployment's superuser claim (settings.json
 * names it). It only decides which controls a page shows: the API decides
 * what the caller may do, and refuses anything else.
 */
export async function isSuperuser() {
  if (roles === null) {
    roles = settings().then((values) => claims()[values.superuser_claim] === true);
  }
  return roles;
}
