// Signing in: with the deployment's identity provider (single sign-on, when
// configured), or by pasting a bearer token (in the local mesh, `modelgw token
// create --user NAME`). Either is kept in sessionStorage, for this tab only.

import { get, settings, signIn, signOut } from "../api.js";
import { field, fieldError, fill, h } from "../dom.js";
import { begin } from "../oidc.js";
import { notify } from "../app.js";

function providerButton(oidc) {
  const name = new URL(oidc.issuer).host;
  return h("section", { class: "card narrow" },
    h("h1", {}, "Sign in"),
    h("button", { type: "button", onclick: () => begin(oidc).catch((error) => notify(error.message, true)) },
      `Sign in with ${name}`),
    h("p", { class: "hint" }, "Your organisation's sign-in page opens, then brings you back here."));
}

export async function render(main) {
  const { oidc } = await settings();
  const input = h("textarea", { rows: 4, spellcheck: false, autocomplete: "off", required: true });
  const form = h("form", { class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    signIn(input.value);
    try {
      await get("/v1/models?page_size=1");
      location.hash = "#/models";
    } catch (error) {
      signOut();
      fieldError(input, error.status === 401 ? "This token is not valid or has expired." : error.message);
    }
  } },
  h(oidc ? "h2" : "h1", {}, oidc ? "Or paste a token" : "Sign in"),
  field("Bearer token", input, "In the local mesh: modelgw token create --user NAME"),
  h("button", { type: "submit" }, "Sign in"));
  if (oidc) fill(main, providerButton(oidc), form);
  else fill(main, form);
  if (!oidc) input.focus();
}
