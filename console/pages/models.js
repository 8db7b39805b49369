// The models the reader may see: a list with search (SearchModels) and filters
// (mine, public, a tag). Rows are built as DOM nodes in one fragment, so a
// thousand models render in one layout pass.

import { get, query, user } from "../api.js";
import { fill, h } from "../dom.js";
import { fail } from "../app.js";
import { createModelForm } from "./model_create.js";

const PAGE = 200;
const MOST = 5000;

async function listAll(filters) {
  const out = [];
  let pageToken = "";
  do {
    const reply = filters.q
      ? await get(`/v1/models:search${query({ q: filters.q, tags: filters.tag, owner: filters.mine ? user() : "", page_size: PAGE, page_token: pageToken })}`)
      : await get(`/v1/models${query({ tag: filters.tag, page_size: PAGE, page_token: pageToken })}`);
    const models = filters.q ? (reply.hits || []).map((hit) => hit.model) : reply.models || [];
    out.push(...models);
    pageToken = reply.next_page_token || "";
  } while (pageToken && out.length < MOST);
  return out.filter((m) => (!filters.mine || (m.owners || []).includes(user()))
    && (!filters.public || m.visibility === "VISIBILITY_PUBLIC"));
}

function row(model) {
  return h("tr", {},
    h("td", {}, h("a", { href: `#/models/${encodeURIComponent(model.name)}` }, model.name)),
    h("td", {}, model.display_name || ""),
    h("td", {}, (model.tags || []).map((tag) => h("span", { class: "tag" }, tag))),
    h("td", {}, model.visibility === "VISIBILITY_PUBLIC" ? "public" : "private"),
    h("td", {}, model.resolved_version || "—"),
    h("td", {}, (model.owners || []).join(", ")));
}

export async function render(main, _params, search) {
  const q = h("input", { type: "search", id: "models-q", value: search.get("q") || "", placeholder: "aqueous solubility" });
  const tag = h("input", { type: "text", id: "models-tag", value: search.get("tag") || "", placeholder: "rdkit" });
  const mine = h("input", { type: "checkbox", id: "models-mine", checked: search.get("mine") === "1" });
  const pub = h("input", { type: "checkbox", id: "models-public", checked: search.get("public") === "1" });
  const body = h("tbody", {});
  const count = h("p", { class: "count", role: "status" });
  const load = async () => {
    count.textContent = "Loading…";
    try {
      const models = await listAll({ q: q.value.trim(), tag: tag.value.trim(), mine: mine.checked, public: pub.checked });
      const rows = document.createDocumentFragment();
      for (const model of models) rows.append(row(model));
      body.replaceChildren(rows);
      count.textContent = `${models.length} model${models.length === 1 ? "" : "s"}`;
    } catch (error) {
      count.textContent = "";
      fail(error);
    }
  };
  const form = h("form", { class: "filters", role: "search", onsubmit: (event) => { event.preventDefault(); load(); } },
    h("label", { for: "models-q" }, "Search"), q,
    h("label", { for: "models-tag" }, "Tag"), tag,
    h("label", { class: "check" }, mine, " Mine"),
    h("label", { class: "check" }, pub, " Public"),
    h("button", { type: "submit" }, "Search"));
  for (const box of [mine, pub]) box.addEventListener("change", load);
  fill(main,
    h("h1", {}, "Models"), await createModelForm(), form, count,
    h("div", { class: "scroll" }, h("table", { class: "models" },
      h("thead", {}, h("tr", {}, ["Name", "Display name", "Tags", "Visibility", "Runs", "Owners"].map((t) => h("th", { scope: "col" }, t)))),
      body)));
  await load();
}
