// The model page's rollouts (docs/rollouts.md): the active rollout's figures,
// read again every 2 s while the page is open (GET .../rollout); starting one; promoting or
// rolling it back; and the model's past rollouts, one row each. RolloutService
// is for owners and superusers, so the page shows this to them only.

import { explain, get, post } from "../api.js";
import { field, fieldError, fill, h, when } from "../dom.js";
import { fail, notify } from "../app.js";
import { confirmChange, errorAtField, section } from "./model_ui.js";

const POLL_MS = 2000;
const STRATEGIES = {
  ROLLOUT_STRATEGY_CANARY: ["canary", ["canary_percent", "bake_seconds"]],
  ROLLOUT_STRATEGY_LINEAR: ["linear", ["step_percent", "step_interval_seconds"]],
  ROLLOUT_STRATEGY_BLUE_GREEN: ["blue-green", ["canary_percent", "bake_seconds"]],
};
const STATE = { ROLLOUT_STATE_ACTIVE: "active", ROLLOUT_STATE_PROMOTED: "promoted", ROLLOUT_STATE_ROLLED_BACK: "rolled back" };
const percent = (value) => `${Number(value || 0).toFixed(Number(value || 0) % 1 ? 1 : 0)}%`;

function figures(rollout) {
  const line = (label, f) => h("tr", {}, h("th", { scope: "row" }, `${label} ${(f && f.version) || ""}`),
    [f?.jobs || "0", f?.failed_jobs || "0", f?.records || "0", percent(100 * (f?.failure_rate || 0)),
      `${Number(f?.p95_run_seconds || 0).toFixed(2)} s`].map((v) => h("td", {}, String(v))));
  return h("div", { class: "scroll" }, h("table", { class: "owner-figures" },
    h("thead", {}, h("tr", {}, ["Version", "Jobs", "Failed jobs", "Records", "Failure rate", "p95 run"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, line("baseline", rollout.baseline), line("candidate", rollout.candidate))));
}

function liveParts(rollout) {
  return [
    h("p", { class: "owner-big", role: "status" },
      h("b", { class: "owner-percent" }, percent(rollout.candidate_percent)), ` of new unpinned jobs go to ${rollout.candidate_version} (${STRATEGIES[rollout.strategy]?.[0] || rollout.strategy}, from ${rollout.baseline_version})`),
    h("p", { class: "owner-status" }, rollout.status || ""),
    h("p", { class: "hint" }, `Started by ${rollout.started_by} at ${when(rollout.start_time)}.`),
    figures(rollout),
  ];
}

/** The active rollout's controls, built once, and its figures, updated at every poll. */
function activeView(ctx, rollout) {
  const promote = () => confirmChange(`Promote ${rollout.candidate_version}?`,
    h("p", {}, `New jobs that name no version will run ${rollout.candidate_version} instead of ${rollout.baseline_version}; it becomes the default version now.`),
    "Promote", () => post(`${ctx.path}/rollout:promote`, {}),
  ).then(async (done) => { if (done) { notify("Promoted."); await ctx.refresh(); } });
  const reason = h("input", { type: "text", id: "rollback-reason", value: "rolled back from the console" });
  const rollBack = () => confirmChange(`Roll back to ${rollout.baseline_version}?`,
    h("div", {}, h("p", {}, `Every new job that names no version will run ${rollout.baseline_version}; the default version stays as it is.`),
      field("Reason", reason)),
    "Roll back", () => post(`${ctx.path}/rollout:rollBack`, { reason: reason.value }), true,
  ).then(async (done) => { if (done) { notify("Rolled back."); await ctx.refresh(); } });
  const live = h("div", {}, liveParts(rollout));
  const node = h("div", { class: "owner-rollout", dataset: { state: "active" } }, live,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: promote }, "Promote now"),
      h("button", { type: "button", class: "danger", onclick: rollBack }, "Roll back")));
  return { node, update: (next) => fill(live, liveParts(next)) };
}

function number(id, placeholder) {
  return h("input", { type: "number", id, step: "any", placeholder, inputmode: "decimal" });
}

function startForm(ctx) {
  const others = ctx.versions.map((v) => v.version).filter((v) => v !== ctx.model.resolved_version);
  if (!others.length) return h("p", { class: "hint" }, "A rollout needs a second version to roll out: add one first.");
  const candidate = h("select", { id: "ro-candidate" }, others.slice().reverse().map((v) => h("option", { value: v }, v)));
  const strategy = h("select", { id: "ro-strategy" }, Object.entries(STRATEGIES).map(([value, [label]]) => h("option", { value }, label)));
  const inputs = {
    candidate_version: candidate, strategy,
    canary_percent: number("ro-canary", "10"), bake_seconds: number("ro-bake", "600"),
    step_percent: number("ro-step", "10"), step_interval_seconds: number("ro-interval", "60"),
    "guardrails.min_jobs": number("ro-min-jobs", "20"),
    "guardrails.max_failure_rate_increase": number("ro-max-fail", "0.05"),
    "guardrails.max_p95_ratio": number("ro-max-p95", "2"),
  };
  const fields = {
    canary_percent: field("Candidate share (%)", inputs.canary_percent),
    bake_seconds: field("Bake (seconds)", inputs.bake_seconds),
    step_percent: field("Step (%)", inputs.step_percent),
    step_interval_seconds: field("Step interval (seconds)", inputs.step_interval_seconds),
  };
  const shown = () => {
    for (const [name, node] of Object.entries(fields)) node.hidden = !STRATEGIES[strategy.value][1].includes(name);
  };
  strategy.addEventListener("change", shown);
  shown();
  const submit = async (event) => {
    event.preventDefault();
    for (const input of Object.values(inputs)) fieldError(input, "");
    const body = { candidate_version: candidate.value, strategy: strategy.value, guardrails: {} };
    for (const name of STRATEGIES[strategy.value][1]) if (inputs[name].value !== "") body[name] = Number(inputs[name].value);
    for (const name of ["min_jobs", "max_failure_rate_increase", "max_p95_ratio"]) {
      const value = inputs[`guardrails.${name}`].value;
      if (value !== "") body.guardrails[name] = Number(value);
    }
    try {
      await post(`${ctx.path}/rollouts`, body);
      notify(`Rollout of ${body.candidate_version} started.`);
      await ctx.refresh();
    } catch (error) {
      if (!errorAtField(error, inputs)) fail(error);
    }
  };
  return h("details", { class: "owner-add" }, h("summary", {}, "Start a rollout"),
    h("form", { class: "owner-form", onsubmit: submit },
      h("p", { class: "hint" }, `From ${ctx.model.resolved_version} (what jobs that name no version run now). Empty fields take the strategy's defaults.`),
      field("Candidate version", candidate), field("Strategy", strategy),
      Object.values(fields),
      h("fieldset", {}, h("legend", {}, "Guardrails"),
        field("Minimum finished jobs", inputs["guardrails.min_jobs"]),
        field("Largest failure-rate increase (0 to 1)", inputs["guardrails.max_failure_rate_increase"]),
        field("Largest p95 ratio (0 turns it off)", inputs["guardrails.max_p95_ratio"])),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Start rollout"))));
}

/** The active rollout, polled every 2 s; stop() ends the polling. */
export function rolloutSection(ctx) {
  const body = h("div", {}, h("p", {}, "Loading…"));
  let shownKey = null;
  let timer = null;
  let busy = false;
  let view = null;
  const tick = async () => {
    if (busy || !timer) return;
    busy = true;
    try {
      // The newest rollout first (a model without any has an empty list, where
      // GetRollout would answer 404); then its live figures while it is active.
      const latest = ((await get(`${ctx.path}/rollouts?page_size=1`)).rollouts || [])[0];
      const rollout = latest && latest.state === "ROLLOUT_STATE_ACTIVE"
        ? (await get(`${ctx.path}/rollout?rollout_id=${encodeURIComponent(latest.id)}`)).rollout : latest;
      if (!timer) return; // stopped while the answer was on its way
      if (rollout && rollout.state === "ROLLOUT_STATE_ACTIVE") {
        if (shownKey === rollout.id) view.update(rollout);
        else {
          shownKey = rollout.id;
          view = activeView(ctx, rollout);
          fill(body, view.node);
        }
      } else if (shownKey !== "none") {
        if (shownKey !== null && shownKey !== "none") { stop(); await ctx.refresh(); return; } // it ended: the default may have changed
        shownKey = "none";
        fill(body, h("p", { dataset: { state: "none" } }, "No active rollout."), startForm(ctx));
      }
    } catch (error) {
      if (!timer) return;
      stop();
      fill(body, h("p", { class: "error" }, explain(error)));
    } finally {
      busy = false;
    }
  };
  const stop = () => { if (timer) clearInterval(timer); timer = null; };
  timer = setInterval(tick, POLL_MS);
  tick();
  return { node: section("Rollout", body), stop };
}

function historyRow(rollout) {
  return h("tr", {},
    h("td", {}, when(rollout.start_time)),
    h("td", {}, `${rollout.baseline_version} → ${rollout.candidate_version}`),
    h("td", {}, STRATEGIES[rollout.strategy]?.[0] || rollout.strategy),
    h("td", {}, STATE[rollout.state] || rollout.state),
    h("td", {}, rollout.started_by || ""),
    h("td", {}, rollout.end_time ? `${rollout.ended_by} at ${when(rollout.end_time)}${rollout.end_reason ? `: ${rollout.end_reason}` : ""}` : "—"),
    h("td", {}, steps(rollout.steps || [])));
}

function steps(list) {
  if (!list.length) return "";
  return h("details", {}, h("summary", {}, `${list.length} step${list.length === 1 ? "" : "s"}`),
    h("ol", { class: "owner-steps" }, list.map((step) => h("li", {},
      `${when(step.time)}: ${percent(step.percent)} by ${step.actor}${step.note ? ` (${step.note})` : ""}`))));
}

/** The model's rollouts, newest first, one row each (the History section has every change). */
export function pastRolloutsSection(ctx) {
  const body = h("div", {}, h("p", {}, "Loading…"));
  get(`${ctx.path}/rollouts?page_size=100`).then((reply) => {
    const rollouts = reply.rollouts || [];
    fill(body, rollouts.length
      ? h("div", { class: "scroll" }, h("table", { class: "owner-history" },
        h("thead", {}, h("tr", {}, ["Started", "From → to", "Strategy", "State", "Started by", "Ended", "Share changes"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rollouts.map(historyRow))))
      : h("p", { class: "hint" }, "No rollouts yet."));
  }, (error) => fill(body, h("p", { class: "error" }, error.message)));
  return section("Past rollouts", body);
}
