// The consensus builder's children: a model search (SearchModels) to add
// from, and the chosen children, each with the alias its formula uses, an
// optional pinned version, output field and sample value.

import { get, query } from "../api.js";
import { field, fieldError, fill, h } from "../dom.js";
import { fail } from "../app.js";

const HITS = 8;
const SEARCH_DELAY_MS = 250;
const ALIASES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function nextAlias(children) {
  const taken = new Set(children.map((c) => c.alias.value.trim().toUpperCase()));
  for (const letter of ALIASES) if (!taken.has(letter)) return letter;
  return `C${children.length + 1}`;
}

async function versionOptions(select, model) {
  try {
    const reply = await get(`/v1/models/${encodeURIComponent(model)}/versions${query({ page_size: 100 })}`);
    for (const version of reply.versions || []) select.append(h("option", { value: version.version }, version.version));
  } catch (error) {
    fail(error);
  }
}

/** The children editor: {node, values(), mark(problems)}; onChange runs on every edit. */
export function childrenEditor(onChange) {
  const children = []; // {model, alias, version, output, sample, row}
  const list = h("ul", { class: "consensus-children", "aria-label": "Chosen children" });
  const empty = h("p", { class: "hint" }, "No children yet: find models above and add them.");
  const q = h("input", { type: "search", id: "consensus-search", placeholder: "rdkit", autocomplete: "off" });
  const hits = h("ul", { class: "consensus-hits", "aria-label": "Models found" });

  function remove(child) {
    children.splice(children.indexOf(child), 1);
    child.row.remove();
    empty.hidden = children.length > 0;
    onChange();
  }

  function add(model) {
    const child = { model };
    child.alias = h("input", { type: "text", value: nextAlias(children), spellcheck: "false", autocomplete: "off" });
    child.version = h("select", {}, h("option", { value: "" }, "latest, when it runs"));
    child.output = h("input", { type: "text", placeholder: "its numeric field", autocomplete: "off" });
    child.sample = h("input", { type: "number", step: "any", placeholder: "optional" });
    for (const input of [child.alias, child.version, child.output, child.sample]) {
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", onChange);
    }
    child.row = h("li", { dataset: { model } },
      h("span", { class: "child-model" }, model),
      field(`Alias of ${model}`, child.alias),
      field(`Version of ${model}`, child.version),
      field(`Output field of ${model}`, child.output),
      field(`Sample value of ${model}`, child.sample),
      h("button", { type: "button", class: "secondary", onclick: () => remove(child) }, `Remove ${model}`));
    children.push(child);
    list.append(child.row);
    empty.hidden = true;
    versionOptions(child.version, model);
    onChange();
  }

  let timer = 0;
  let asked = 0;
  const search = async () => {
    const text = q.value.trim();
    const ask = ++asked;
    if (!text) {
      fill(hits);
      return;
    }
    try {
      const reply = await get(`/v1/models:search${query({ q: text, page_size: HITS })}`);
      if (ask !== asked) return; // a newer search is under way
      const models = (reply.hits || []).map((hit) => hit.model);
      fill(hits, models.length ? models.map((m) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => add(m.name) }, `Add ${m.name}`),
        m.display_name ? ` — ${m.display_name}` : "")) : h("li", { class: "hint" }, "No model matches."));
    } catch (error) {
      fail(error);
    }
  };
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, SEARCH_DELAY_MS);
  });

  const values = () => children.map((c) => ({
    model: c.model, alias: c.alias.value.trim(), version: c.version.value,
    output: c.output.value.trim(), sample: c.sample.value.trim(),
  }));

  /** Marks each child a "children.ALIAS..." problem names; returns the problems it placed. */
  function mark(problems) {
    const placed = new Set();
    for (const child of children) {
      const alias = child.alias.value.trim().toLowerCase();
      const mine = problems.filter((p) => (p.location || "").toLowerCase().split(".").slice(0, 2).join(".") === `children.${alias}`);
      mine.forEach((p) => placed.add(p));
      child.row.setAttribute("aria-invalid", mine.length ? "true" : "false");
      fieldError(child.alias, mine.map((p) => p.message).join("; "));
    }
    return placed;
  }

  const node = h("div", {},
    field("Find a child model", q, "Search by name or by what it predicts, then add it."),
    hits, empty, list);
  return { node, values, mark, stop: () => clearTimeout(timer) };
}
