// The model page's history (ListModelHistory): who changed its default version,
// visibility, grants and rollouts, when, and from what to what, newest first,
// a page at a time. The API gives it to owners and superusers, as ListAccess,
// so the page shows it to them only. The page draws its sections again after
// every change it makes, so the history is read again with them.

import { explain, get, query } from "../api.js";
import { h, when } from "../dom.js";
import { section } from "./model_ui.js";

const PAGE = 25;
const STRATEGY = { blue_green: "blue-green", canary: "canary", linear: "linear" };

const arrow = (from, to) => `${from} → ${to}`;
const version = (value) => value || "none";
const share = (value) => `${value || "0"}%`;

// Each kind in words: what happened, the change (from → to) and the detail.
const KINDS = {
  MODEL_HISTORY_KIND_MODEL_CREATED: (e) => ["Model created", "", e.detail],
  MODEL_HISTORY_KIND_VERSION_ADDED: (e) => ["Version added", e.to_value, e.detail],
  MODEL_HISTORY_KIND_VERSION_DELETED: (e) => ["Version deleted", e.from_value, e.detail],
  MODEL_HISTORY_KIND_DEFAULT_VERSION: (e) => ["Default version",
    arrow(version(e.from_value), version(e.to_value)), e.to_value ? "" : "no default: the latest version runs"],
  MODEL_HISTORY_KIND_VISIBILITY: (e) => ["Visibility", arrow(e.from_value, e.to_value), ""],
  MODEL_HISTORY_KIND_GRANT: (e) => [`Granted ${e.to_value}`, e.user, ""],
  MODEL_HISTORY_KIND_REVOKE: (e) => [`Revoked ${e.from_value}`, e.user, ""],
  MODEL_HISTORY_KIND_ROLLOUT_STARTED: (e) => ["Rollout started", arrow(e.from_value, e.to_value),
    STRATEGY[e.detail] || e.detail],
  MODEL_HISTORY_KIND_ROLLOUT_STEP: (e) => ["Rollout share", arrow(share(e.from_value), share(e.to_value)), e.detail],
  MODEL_HISTORY_KIND_ROLLOUT_PROMOTED: (e) => ["Rollout promoted", arrow(e.from_value, e.to_value), e.detail],
  MODEL_HISTORY_KIND_ROLLOUT_ROLLED_BACK: (e) => ["Rollout rolled back", arrow(e.from_value, e.to_value), e.detail],
};

function described(event) {
  const words = KINDS[event.kind];
  if (words) return words(event);
  const change = event.from_value || event.to_value ? arrow(event.from_value || "", event.to_value || "") : "";
  return [String(event.kind || "Change"), change, [event.user, event.detail].filter(Boolean).join(" ")];
}

function row(event) {
  const [what, change, detail] = described(event);
  return h("tr", { dataset: { kind: event.kind || "" } },
    h("td", { class: "model-history-when" }, when(event.time)),
    h("td", {}, event.actor || ""),
    h("td", { class: "model-history-what" }, what),
    h("td", {}, change || "—"),
    h("td", { class: "model-history-detail" }, detail || ""));
}

/** The History section: the first page at once, "Load more" for the older ones. */
export function historySection(ctx) {
  const rows = h("tbody", {});
  const table = h("div", { class: "scroll", hidden: true }, h("table", { class: "model-history" },
    h("thead", {}, h("tr", {}, ["When", "Who", "What", "From → to", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
    rows));
  const status = h("p", { class: "hint", role: "status" }, "Loading…");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  let token = "";
  const load = async () => {
    more.disabled = true;
    try {
      const reply = await get(`${ctx.path}/history${query({ page_size: PAGE, page_token: token })}`);
      rows.append(...(reply.events || []).map(row));
      token = reply.next_page_token || "";
      table.hidden = !rows.children.length;
      status.hidden = rows.children.length > 0;
      status.textContent = "No changes recorded yet.";
      more.hidden = !token;
    } catch (error) {
      status.className = "error";
      status.textContent = explain(error);
      status.hidden = false;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  load();
  return section("History",
    h("p", { class: "hint" }, "Who changed what, newest first: the default version, visibility, access, versions and rollouts, made here, through the API or by the rollout controller."),
    table, status, h("div", { class: "actions" }, more));
}
