// The consensus builder: choose children, write the formula, and
// VerifyConsensusModel checks it as you type (debounced); its problems are
// marked where they are. Superusers may then create the model
// (ImportConsensusModel) from the same Algorithm 1 YAML that was verified.

import { ApiError, explain, isSuperuser, post } from "../api.js";
import { field, fieldError, fill, h } from "../dom.js";
import { notify } from "../app.js";
import { childrenEditor } from "./consensus_children.js";
import { algorithm1, formulaPosition, markedFormula } from "./consensus_yaml.js";

const VERIFY_DELAY_MS = 300;
const DRAFT_NAME = "console.draft"; // verify needs a name; the draft's stands in until a valid one is typed
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const MODEL_NAME = new RegExp(`^(?=.{1,128}$)${LABEL}(?:\\.${LABEL})*$`);

function sampleOf(children) {
  const given = children.filter((c) => c.sample !== "");
  if (!given.length) return undefined;
  return Object.fromEntries(given.map((c) => [c.alias, Number(c.sample)]));
}

function problemItem(problem) {
  return h("li", { dataset: { kind: problem.kind, location: problem.location || "" } },
    problem.message, problem.location ? [" (", h("code", {}, problem.location), ")"] : "");
}

function reportView(reply, formula) {
  const problems = reply.problems || [];
  const resolved = Object.entries(reply.child_versions || {});
  return [
    problems.length
      ? h("p", { class: "error" }, `${problems.length} problem${problems.length === 1 ? "" : "s"}:`)
      : h("p", { class: "ok" }, "Verified: no problems."),
    problems.some((p) => formulaPosition(p.location)) ? markedFormula(formula, problems) : null,
    problems.length ? h("ul", { class: "problems" }, problems.map(problemItem)) : null,
    reply.has_sample_value ? h("p", { class: "sample-value" }, "Value on the sample: ", h("b", {}, String(reply.sample_value ?? 0))) : null,
    resolved.length ? h("p", { class: "hint" }, "Children resolve now to: ",
      resolved.map(([alias, version]) => `${alias} → ${version}`).join(", ")) : null,
  ];
}

export async function render(main) {
  const superuser = await isSuperuser();
  const name = h("input", { type: "text", id: "consensus-name", placeholder: "acme.paper-consensus", autocomplete: "off", spellcheck: "false" });
  const version = h("input", { type: "text", id: "consensus-version", value: "1.0.0", autocomplete: "off" });
  const formula = h("textarea", { id: "consensus-formula", rows: 3, spellcheck: "false", placeholder: "A <= 0 ? A + B : A * B" });
  const report = h("div", { class: "report", role: "status", "aria-live": "polite" });
  const result = h("div", { class: "created" });
  let timer = 0;
  let asked = 0;

  // A hint while typing; the API decides when the model is created.
  const nameProblem = () => (!name.value.trim() || MODEL_NAME.test(name.value.trim()) ? ""
    : "Not a model name: lowercase letters, digits and '-' in dot-separated labels, e.g. acme.paper-consensus.");
  const draftName = () => (name.value.trim() && !nameProblem() ? name.value.trim() : DRAFT_NAME);
  const definition = () => {
    const children = editor.values();
    return { children, text: formula.value, yaml: algorithm1(draftName(), children, formula.value) };
  };

  const verify = async () => {
    const ask = ++asked;
    const { children, text, yaml } = definition();
    fieldError(name, nameProblem());
    if (!children.length || !text.trim()) {
      fieldError(formula, "");
      fill(report, h("p", { class: "hint" }, children.length ? "Write the formula to verify it." : "Add a child to verify the formula."));
      return;
    }
    fill(report, h("p", { class: "hint" }, "Verifying…"));
    try {
      const body = { name: draftName(), yaml };
      const sample = sampleOf(children);
      if (sample) body.sample = sample;
      const reply = await post("/v1/models:verifyConsensus", body);
      if (ask !== asked) return; // the reader typed on: a newer check answers
      const placed = editor.mark(reply.problems || []);
      const inFormula = (reply.problems || []).filter((p) => !placed.has(p) && /^formula\b/.test(p.location || ""));
      fieldError(formula, inFormula.length ? inFormula.map((p) => p.message).join("; ") : "");
      fill(report, reportView(reply, text));
    } catch (error) {
      if (ask !== asked) return;
      editor.mark([]);
      // a definition that is not well formed names its key: the formula's, or a child's
      const aboutFormula = error instanceof ApiError && error.status === 400 && /formula/i.test(error.message);
      fieldError(formula, aboutFormula ? error.message : "");
      fill(report, h("p", { class: "error" }, explain(error)));
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(verify, VERIFY_DELAY_MS);
  };
  const editor = childrenEditor(schedule);
  for (const input of [name, formula]) input.addEventListener("input", schedule);

  const create = async () => {
    clearTimeout(timer);
    if (!name.value.trim() || nameProblem()) {
      fieldError(name, nameProblem() || "Name the model to create it.");
      name.focus();
      return;
    }
    try {
      const reply = await post("/v1/models:importConsensus", { yaml: definition().yaml, version: version.value.trim() });
      const created = reply.model.name;
      notify(`Created ${created}.`);
      fill(result, h("p", { class: "ok" }, "Created ", h("a", { href: `#/models/${encodeURIComponent(created)}` }, created),
        ` ${(reply.version && reply.version.version) || ""} (private until shared).`));
    } catch (error) {
      fill(result, h("p", { class: "error", role: "alert" }, explain(error)));
    }
  };

  fill(main,
    h("h1", {}, "Consensus builder"),
    h("p", { class: "hint" }, "A consensus model combines other models' outputs with a formula, as in the paper's Algorithm 1. ",
      "Every edit is verified against the registry as you type; nothing is stored until you create it."),
    h("section", { class: "card" }, h("h2", {}, "Children"), editor.node),
    h("section", { class: "card" }, h("h2", {}, "Formula"),
      field("Formula", formula, "Use the children's aliases, e.g. A <= 0 ? A + B : A * B."),
      h("h3", {}, "Verification"), report),
    h("section", { class: "card" }, h("h2", {}, "Create"),
      field("Name of the new model", name, "Lowercase, dot-separated, e.g. acme.paper-consensus."),
      field("First version", version),
      superuser
        ? h("div", { class: "actions" }, h("button", { type: "button", onclick: create }, "Create consensus model"))
        : h("p", { class: "hint" }, "Only superusers create models: you can still build and verify one here."),
      result));
  verify();
  return () => {
    clearTimeout(timer);
    editor.stop();
    asked += 1;
  };
}
