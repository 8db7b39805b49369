// Single sign-on: OpenID Connect's authorization code flow with PKCE (RFC 7636),
// for a public client (the console has no secret). begin() sends the tab to the
// provider; the provider sends it back to /console/?code=…&state=…, where
// complete() trades the code, with the verifier only this tab holds, for tokens.
// The gateway verifies the token it is then sent against the provider's keys.

const PENDING_KEY = "modelgw.oidc.pending"; // state, nonce, verifier: one sign-in in flight
const SESSION_KEY = "modelgw.oidc.session"; // what signing out at the provider needs

/** The console's redirect URI: the page the provider sends the code back to. */
export function redirectUri() {
  return `${location.origin}/console/`;
}

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function discover(oidc) {
  const url = `${oidc.issuer}/.well-known/openid-configuration`;
  let response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" } });
  } catch (error) {
    throw new Error(`The identity provider at ${oidc.issuer} cannot be reached: ${error.message}`);
  }
  if (!response.ok) throw new Error(`The identity provider answered ${response.status} for ${url}`);
  const metadata = await response.json();
  // A document for another issuer would send this tab's code elsewhere (mix-up).
  if (metadata.issuer !== oidc.issuer) {
    throw new Error(`The provider's discovery document names the issuer ${metadata.issuer}, not ${oidc.issuer}`);
  }
  for (const name of ["authorization_endpoint", "token_endpoint"]) {
    if (!/^https?:\/\//.test(String(metadata[name] || ""))) {
      throw new Error(`The provider's discovery document has no ${name}`);
    }
  }
  return metadata;
}

/** Sends this tab to the provider to sign in; `back` is the #fragment to return to. */
export async function begin(oidc, back = "#/models") {
  const metadata = await discover(oidc);
  const verifier = randomText();
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const pending = {
    state: randomText(), nonce: randomText(), verifier, back,
    token_endpoint: metadata.token_endpoint, end_session_endpoint: metadata.end_session_endpoint || "",
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(metadata.authorization_endpoint);
  const params = {
    response_type: "code", client_id: oidc.client_id, redirect_uri: redirectUri(), scope: oidc.scope,
    state: pending.state, nonce: pending.nonce, code_challenge: challenge, code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  location.assign(url.toString());
}

/** Whether this load is the provider's reply (?code=… or ?error=…). */
export function isReply() {
  const params = new URLSearchParams(location.search);
  return params.has("state") && (params.has("code") || params.has("error"));
}

function payload(jwt) {
  try {
    return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

async function exchange(oidc, pending, code) {
  const body = new URLSearchParams({
    grant_type: "authorization_code", code, redirect_uri: redirectUri(),
    client_id: oidc.client_id, code_verifier: pending.verifier,
  });
  const response = await fetch(pending.token_endpoint, {
    method: "POST", body, headers: { accept: "application/json" },
  });
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`The provider refused the sign-in: ${reply.error_description || reply.error || response.status}`);
  }
  return reply;
}

/**
 * Finishes a sign-in from the provider's reply: checks the state against this
 * tab's, trades the code for tokens and returns {token, back}. The code leaves
 * the address bar first, whatever happens. Throws an Error that says why not.
 */
export async function complete(oidc) {
  const params = new URLSearchParams(location.search);
  history.replaceState(null, "", `${location.pathname}${location.hash}`);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("This sign-in reply was not asked for by this tab: sign in again.");
  }
  if (params.has("error")) {
    throw new Error(`The identity provider did not sign you in: ${params.get("error_description") || params.get("error")}`);
  }
  const reply = await exchange(oidc, pending, params.get("code"));
  // The ID token came straight from the token endpoint, so its nonce is what
  // ties it to this sign-in (OpenID Connect Core 3.1.3.7).
  if (reply.id_token && payload(reply.id_token).nonce !== pending.nonce) {
    throw new Error("The provider's ID token is not for this sign-in (nonce): sign in again.");
  }
  const token = reply[oidc.token];
  if (!token) throw new Error(`The provider's reply has no ${oidc.token}`);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    end_session_endpoint: pending.end_session_endpoint, id_token: reply.id_token || "",
  }));
  return { token, back: pending.back };
}

/**
 * Forgets the provider session of this tab; returns the provider's sign-out URL
 * (RP-initiated logout) when it has one, else "".
 */
export function endSession(oidc) {
  const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  sessionStorage.removeItem(SESSION_KEY);
  if (!oidc || !session || !session.end_session_endpoint) return "";
  const url = new URL(session.end_session_endpoint);
  url.searchParams.set("client_id", oidc.client_id);
  url.searchParams.set("post_logout_redirect_uri", redirectUri());
  if (session.id_token) url.searchParams.set("id_token_hint", session.id_token);
  return url.toString();
}
