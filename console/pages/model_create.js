// The superuser's "Create model" form on the models list. A new model is
// private with no versions; the form then opens its page, where the superuser
// assigns its owners (GrantAccess) and adds versions.

import { isSuperuser, post } from "../api.js";
import { field, fieldError, h } from "../dom.js";
import { fail, notify } from "../app.js";
import { errorAtField } from "./model_ui.js";

/** The form in a <details>, or null for anyone but a superuser. */
export async function createModelForm() {
  if (!(await isSuperuser())) return null;
  const name = h("input", { type: "text", id: "new-name", placeholder: "acme.logp", required: true, autocomplete: "off" });
  const display = h("input", { type: "text", id: "new-display" });
  const description = h("textarea", { id: "new-description", rows: 3 });
  const tags = h("input", { type: "text", id: "new-tags" });
  const inputs = { "model.name": name, name, "model.display_name": display, "model.description": description, "model.tags": tags };
  const submit = async (event) => {
    event.preventDefault();
    for (const input of [name, display, description, tags]) fieldError(input, "");
    const model = {
      name: name.value.trim(), display_name: display.value, description: description.value,
      tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
    };
    try {
      await post("/v1/models", model);
      notify(`${model.name} created: assign its owners under Access.`);
      location.hash = `#/models/${encodeURIComponent(model.name)}`;
    } catch (error) {
      if (!errorAtField(error, inputs)) {
        if (error.code === "ALREADY_EXISTS") fieldError(name, error.message);
        else fail(error);
      }
    }
  };
  return h("details", { class: "owner-add owner-create" }, h("summary", {}, "Create model"),
    h("form", { class: "owner-form card", onsubmit: submit },
      field("Model name", name, "Lowercase DNS-style labels joined by dots. Set once, never changed."),
      field("Display name", display), field("Description", description, "Markdown."),
      field("Labels", tags, "The model's tags, comma-separated."),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Create model"))));
}
