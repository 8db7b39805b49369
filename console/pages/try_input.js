// The input of the Try it page for one version's input schema, in up to three
// ways: the generated form (one record), a text area of one record a line
// (when the records are one required string, like {"smiles": ...}), and raw
// JSON records, which any schema accepts. It reads the records and shows the
// API's INVALID_ARGUMENT at the field, line or record it names.

import { field, fieldError, h } from "../dom.js";
import { expressible, lineField, recordForm, recordPath } from "../forms.js";

function example(schema, lineName) {
  if (lineName) return JSON.stringify([{ [lineName]: "CCO" }], null, 2);
  const record = {};
  for (const [name, prop] of Object.entries((schema && schema.properties) || {})) {
    if (prop.default !== undefined) record[name] = prop.default;
    else if (Array.isArray(prop.examples) && prop.examples.length) record[name] = prop.examples[0];
  }
  return JSON.stringify([record], null, 2);
}

function linesPanel(lineName) {
  const area = h("textarea", { id: "try-lines", rows: 6, spellcheck: false, placeholder: "CN1C=NC2=C1C(=O)N(C(=O)N2C)C\nCCO" });
  const node = field(`${lineName}, one record a line`, area, "Each non-empty line is one record.");
  const read = () => {
    fieldError(area, "");
    const lines = area.value.split("\n");
    const records = [];
    const lineOf = [];
    lines.forEach((line, index) => {
      if (!line.trim()) return;
      records.push({ [lineName]: line.trim() });
      lineOf.push(index + 1);
    });
    if (!records.length) {
      fieldError(area, "Required: at least one line.");
      return null;
    }
    area.dataset.lines = JSON.stringify(lineOf);
    return records;
  };
  const showError = (index, _pointer, message) => {
    const lineOf = JSON.parse(area.dataset.lines || "[]");
    fieldError(area, `Line ${lineOf[index] ?? index + 1}: ${message}`);
    area.focus();
  };
  return { node, read, showError };
}

function jsonPanel(schema, lineName) {
  const area = h("textarea", { id: "try-json", rows: 8, spellcheck: false });
  area.value = example(schema, lineName);
  const node = field("Records (JSON)", area, "A JSON array of records, each an object matching the input schema.");
  const read = () => {
    fieldError(area, "");
    let value;
    try {
      value = JSON.parse(area.value);
    } catch (error) {
      fieldError(area, `Not JSON: ${error.message}`);
      return null;
    }
    const records = Array.isArray(value) ? value : [value];
    if (!records.length || records.some((r) => r === null || typeof r !== "object" || Array.isArray(r))) {
      fieldError(area, "Give at least one record, each a JSON object.");
      return null;
    }
    return records;
  };
  const showError = (index, pointer, message) => {
    fieldError(area, `Record ${index + 1}${pointer ? ` (${pointer})` : ""}: ${message}`);
    area.focus();
  };
  return { node, read, showError };
}

function formPanel(schema) {
  const form = recordForm(schema, "try-field");
  return {
    node: form.node,
    read: () => { const record = form.read(); return record ? [record] : null; },
    showError: (_index, pointer, message) => form.showError(pointer, message),
  };
}

/** The input area: {node, read() -> records or null, showError(apiError) -> shown?}. */
export function inputArea(schema) {
  const lineName = lineField(schema);
  const panels = {};
  if (expressible(schema)) panels.form = ["Form", formPanel(schema)];
  if (lineName) panels.lines = ["One record a line", linesPanel(lineName)];
  panels.json = ["JSON records", jsonPanel(schema, lineName)];
  let mode = Object.keys(panels)[0];
  const boxes = h("div", {});
  const show = () => {
    for (const [key, [, panel]] of Object.entries(panels)) panel.node.hidden = key !== mode;
  };
  const radios = Object.entries(panels).map(([key, [label]]) => h("label", { class: "check" },
    h("input", { type: "radio", name: "try-mode", value: key, checked: key === mode,
      onchange: () => { mode = key; show(); } }), ` ${label}`));
  for (const [, panel] of Object.values(panels)) boxes.append(panel.node);
  show();
  const modes = Object.keys(panels).length > 1 ? h("fieldset", { class: "modes" }, h("legend", {}, "Input as"), radios) : null;
  return {
    node: h("div", { class: "try-input" }, modes, boxes),
    read: () => panels[mode][1].read(),
    showError: (error) => {
      const path = error.code === "INVALID_ARGUMENT" ? recordPath(error.field) : null;
      if (!path) return false;
      panels[mode][1].showError(path[0], path[1], error.message);
      return true;
    },
  };
}
