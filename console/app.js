// The console's shell: the header (who is signed in, sign out), the router from
// the URL's #fragment to a page module, and the notice line. Every page is
// `render(main, params) -> optional stop()`: stop() ends its timers and streams
// when the reader leaves it.

import { explain, isSuperuser, settings, signIn, signOut, token, user } from "./api.js";
import { fill, h } from "./dom.js";
import { complete, endSession, isReply } from "./oidc.js";

const PAGES = [
  [/^#\/signin$/, () => import("./pages/signin.js")],
  [/^#\/models$/, () => import("./pages/models.js")],
  [/^#\/models\/([^/]+)\/try$/, () => import("./pages/try.js")],
  [/^#\/models\/([^/]+)$/, () => import("./pages/model.js")],
  [/^#\/jobs$/, () => import("./pages/jobs.js")],
  [/^#\/jobs\/([^/]+)$/, () => import("./pages/job.js")],
  [/^#\/consensus$/, () => import("./pages/consensus.js")],
  [/^#\/monitoring$/, () => import("./pages/monitoring.js")],
];

let stopPage = null;

/** Shows a message for people in the notice line (an error when `error`). */
export function notify(message, error = false) {
  const notice = document.getElementById("notice");
  notice.className = error ? "notice error" : "notice";
  notice.textContent = message;
  if (message) setTimeout(() => { if (notice.textContent === message) notice.textContent = ""; }, 8000);
}

/** Shows an API error: its message, and a way to sign in again after a 401. */
export function fail(error) {
  notify(explain(error), true);
  if (error && error.status === 401) location.hash = "#/signin";
}

async function header() {
  const who = document.getElementById("who");
  if (!token()) {
    fill(who, h("a", { href: "#/signin" }, "Sign in"));
    return;
  }
  const out = h("button", { type: "button", class: "link", onclick: async () => {
    signOut();
    const atProvider = endSession((await settings()).oidc);
    if (atProvider) location.assign(atProvider);
    else location.hash = "#/signin";
  } }, "Sign out");
  fill(who, h("span", { class: "user" }, user() || "signed in"), " ", out);
  const superuser = await isSuperuser();
  for (const link of document.querySelectorAll("[data-superuser]")) link.hidden = !superuser;
}

async function route() {
  if (stopPage) {
    stopPage();
    stopPage = null;
  }
  const main = document.getElementById("main");
  const hash = location.hash || "#/models";
  if (!token() && hash !== "#/signin") {
    location.hash = "#/signin";
    return;
  }
  await header();
  for (const [pattern, load] of PAGES) {
    const match = pattern.exec(hash.split("?")[0]);
    if (!match) continue;
    for (const link of document.querySelectorAll("#nav a")) {
      link.toggleAttribute("aria-current", hash.startsWith(link.getAttribute("href")));
    }
    fill(main, h("p", {}, "Loading…"));
    try {
      const page = await load();
      const params = match.slice(1).map(decodeURIComponent);
      stopPage = (await page.render(main, params, new URLSearchParams(hash.split("?")[1] || ""))) || null;
    } catch (error) {
      fill(main, h("p", { class: "error" }, explain(error)));
      fail(error);
    }
    main.focus({ preventScroll: true });
    return;
  }
  fill(main, h("h1", {}, "Not found"), h("p", {}, "No page of the console is at this address."));
}

/** A single sign-on reply in the address (?code=…&state=…): finish signing in. */
async function finishSignIn() {
  if (!isReply()) return;
  const { oidc } = await settings();
  if (!oidc) {
    history.replaceState(null, "", `${location.pathname}${location.hash}`);
    return;
  }
  try {
    const { token: value, back } = await complete(oidc);
    signIn(value);
    history.replaceState(null, "", `${location.pathname}${back}`);
  } catch (error) {
    history.replaceState(null, "", `${location.pathname}#/signin`);
    notify(error.message, true);
  }
}

finishSignIn().then(() => {
  window.addEventListener("hashchange", route);
  route();
});
