// Signing in: paste a bearer token (in the local mesh, `modelgw token create
// --user NAME`). It is kept in sessionStorage, for this tab only.

import { get, signIn, signOut } from "../api.js";
import { field, fieldError, fill, h } from "../dom.js";

export async function render(main) {
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
  h("h1", {}, "Sign in"),
  field("Bearer token", input, "In the local mesh: modelgw token create --user NAME"),
  h("button", { type: "submit" }, "Sign in"));
  fill(main, form);
  input.focus();
}
