// The model page's versions: the table (schemas folded in <details>), choosing
// the default version behind a confirmation that says what changes, and the
// form that adds a version, its errors shown at the input they are about.

import { post } from "../api.js";
import { field, fieldError, h, when } from "../dom.js";
import { fail, notify } from "../app.js";
import { confirmChange, errorAtField, jsonOf, section } from "./model_ui.js";

function schema(label, value) {
  return h("details", { class: "owner-schema" },
    h("summary", {}, label), h("pre", {}, JSON.stringify(value || {}, null, 2)));
}

function defaultCell(ctx, version) {
  const { model } = ctx;
  const marks = [];
  if (model.default_version === version.version) marks.push(h("span", { class: "owner-badge owner-default" }, "default"));
  if (model.resolved_version === version.version) marks.push(h("span", { class: "owner-badge" }, "runs"));
  if (ctx.manage && model.default_version !== version.version) {
    marks.push(h("button", { type: "button", class: "secondary small", "aria-label": `Make ${version.version} the default`,
      onclick: () => askDefault(ctx, version.version) }, "Make default"));
  }
  return h("td", {}, marks);
}

function row(ctx, version) {
  return h("tr", {},
    h("th", { scope: "row" }, version.version),
    h("td", {}, (version.backend && version.backend.kind) || ""),
    h("td", {}, when(version.create_time)),
    h("td", { class: "owner-notes" }, version.notes || ""),
    h("td", {}, schema("input", version.input_schema), schema("output", version.output_schema)),
    defaultCell(ctx, version));
}

/** Sets (or with "" clears) the default version, after saying what changes. */
function askDefault(ctx, version) {
  const from = ctx.model.resolved_version;
  const runs = version || ctx.versions[ctx.versions.length - 1].version; // cleared: the latest
  const sentence = from && from !== runs
    ? `New jobs that name no version will run ${runs} instead of ${from}.`
    : `New jobs that name no version will run ${runs}, as now.`;
  const body = h("div", {}, h("p", {}, sentence),
    h("p", { class: "hint" }, "Jobs already queued keep the version they got. A job that names a version is not affected."));
  const title = version ? `Make ${version} the default of ${ctx.model.name}?` : `Clear the default of ${ctx.model.name}?`;
  const label = version ? `Make ${version} the default` : "Clear the default";
  confirmChange(title, body, label, async () => {
    await post(`${ctx.path}:setDefaultVersion`, { version });
  }).then(async (done) => {
    if (!done) return;
    notify(version ? `${version} is the default version now.` : "No default version: jobs run the latest.");
    await ctx.refresh();
  });
}

function addForm(ctx) {
  const version = h("input", { type: "text", id: "v-version", placeholder: "2.1.0", required: true });
  const kind = h("select", { id: "v-kind" }, ["python", "subprocess", "http", "consensus"].map((k) => h("option", { value: k }, k)));
  const config = h("textarea", { id: "v-config", rows: 3, placeholder: '{"callable": "pkg.module:predict"}' });
  const input = h("textarea", { id: "v-input", rows: 4, placeholder: '{"type": "object"}' });
  const output = h("textarea", { id: "v-output", rows: 4, placeholder: '{"type": "object"}' });
  const notes = h("textarea", { id: "v-notes", rows: 2 });
  const inputs = {
    "version.version": version, "version.backend.kind": kind, "version.backend.config": config,
    "version.backend": config, "version.input_schema": input, "version.output_schema": output, "version.notes": notes,
  };
  const submit = async (event) => {
    event.preventDefault();
    for (const each of [version, kind, config, input, output, notes]) fieldError(each, "");
    const parsed = [config, input, output].map((each) => jsonOf(each));
    if (parsed.includes(undefined)) {
      [config, input, output][parsed.indexOf(undefined)].focus();
      return;
    }
    const body = { version: version.value.trim(), notes: notes.value, backend: { kind: kind.value, config: parsed[0] || {} } };
    if (parsed[1]) body.input_schema = parsed[1];
    if (parsed[2]) body.output_schema = parsed[2];
    try {
      await post(`${ctx.path}/versions`, body);
      notify(`Version ${body.version} added.`);
      await ctx.refresh();
    } catch (error) {
      if (!errorAtField(error, inputs)) fail(error);
    }
  };
  return h("details", { class: "owner-add" }, h("summary", {}, "Add a version"),
    h("form", { class: "owner-form", onsubmit: submit },
      field("Version", version, "Letters, digits, '.', '_', '+', '-': for example 2.1.0. Versions are immutable."),
      field("Backend kind", kind),
      field("Backend config (JSON)", config),
      field("Input schema (JSON Schema)", input, "Empty: any object."),
      field("Output schema (JSON Schema)", output, "Empty: any object."),
      field("Notes", notes, "What changed from the previous version and why."),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Add version"))));
}

export function versionsSection(ctx) {
  const { versions, model } = ctx;
  const resolves = model.resolved_version
    ? `Jobs that name no version run ${model.resolved_version} (${model.default_version ? "the default version" : "the latest: no default is chosen"}).`
    : "No version yet.";
  const table = h("div", { class: "scroll" }, h("table", { class: "owner-versions" },
    h("thead", {}, h("tr", {}, ["Version", "Backend", "Created", "Notes", "Schemas", "Default"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, versions.map((v) => row(ctx, v)))));
  const clear = ctx.manage && model.default_version
    ? h("button", { type: "button", class: "secondary small", onclick: () => askDefault(ctx, "") }, "Clear the default")
    : null;
  return section("Versions", h("p", { class: "owner-resolves" }, resolves, " ", clear), versions.length ? table : null,
    ctx.manage ? addForm(ctx) : null);
}
