// Pieces the model page's sections share: a confirmation
// <dialog>, and putting an API refusal at the input it is about.

import { explain } from "../api.js";
import { fieldError, h } from "../dom.js";

/**
 * Asks before a change: a modal <dialog> saying what will change. `act` runs on
 * confirmation; when it throws, its message shows in the dialog and the dialog
 * stays open, so the reader sees why (an active rollout, dependents).
 * Resolves true once `act` succeeded, false when cancelled.
 */
export function confirmChange(title, body, confirmLabel, act, danger = false) {
  return new Promise((resolve) => {
    const error = h("p", { class: "error", role: "alert" });
    const ok = h("button", { type: "submit", class: danger ? "danger" : "" }, confirmLabel);
    const dialog = h("dialog", { class: "owner-dialog", "aria-label": title });
    const close = (result) => {
      dialog.close();
      dialog.remove();
      resolve(result);
    };
    const form = h("form", { method: "dialog", onsubmit: async (event) => {
      event.preventDefault();
      ok.disabled = true;
      error.textContent = "";
      try {
        await act();
        close(true);
      } catch (failure) {
        error.textContent = explain(failure);
        ok.disabled = false;
      }
    } },
      h("h2", {}, title), body, error,
      h("div", { class: "actions" }, ok,
        h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel")));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(false); });
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * Shows an API error at the input it names: error.field (a BadRequest) when the
 * API sends one, else the field name the registry's messages start with
 * ("version.input_schema is not a valid JSON Schema: ..."). `inputs` maps API
 * field names to inputs, longest names first wins. Returns whether it placed it.
 */
export function errorAtField(error, inputs) {
  const names = Object.keys(inputs).sort((a, b) => b.length - a.length);
  const named = error && error.field ? error.field : "";
  const message = error && error.message ? error.message : "";
  const key = names.find((name) => named === name || named.startsWith(`${name}.`))
    || names.find((name) => message.startsWith(`${name} `) || message.startsWith(`${name}:`)
      || message.startsWith(`${name}.`));
  if (!key) return false;
  fieldError(inputs[key], explain(error));
  inputs[key].focus();
  return true;
}

/** Parses a JSON input; shows the parse error at it and returns undefined when bad. */
export function jsonOf(input, { object = true } = {}) {
  const text = input.value.trim();
  if (!text) return null;
  try {
    const value = JSON.parse(text);
    if (object && (value === null || typeof value !== "object" || Array.isArray(value))) {
      fieldError(input, "Not a JSON object: write {...}.");
      return undefined;
    }
    fieldError(input, "");
    return value;
  } catch (error) {
    fieldError(input, `Not valid JSON: ${error.message}`);
    return undefined;
  }
}

/** A section of the page with its heading. */
export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "card owner-section", "aria-labelledby": id },
    h("h2", { id }, title), children);
}
