// A job's results as a table (one row per record: its input when the page
// knows it, its output fields, or its own error) and as CSV or JSON files.

import { download, h } from "./dom.js";

/** A number as the table shows it: at most three decimals, the full value on hover. */
export function shown(value) {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    const magnitude = Math.abs(value);
    if (magnitude >= 1e-3 && magnitude < 1e9) return String(Number(value.toFixed(3)));
    return value.toPrecision(4);
  }
  if (value === undefined || value === null) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function keys(objects, preferred = []) {
  const out = [...preferred];
  for (const object of objects) {
    for (const key of Object.keys(object || {})) if (!out.includes(key)) out.push(key);
  }
  return out;
}

function cell(value) {
  const text = shown(value);
  if (value !== null && typeof value === "object") return h("td", {}, h("code", {}, text));
  return h("td", { class: typeof value === "number" ? "num" : undefined, title: typeof value === "number" ? String(value) : undefined }, text);
}

/** The rows of a job: [{index, input, output, error}], inputs when given. */
export function rows(results, inputs = []) {
  return (results || []).map((result, index) => ({
    index, input: inputs[index], output: result.output || null, error: result.error || "",
  }));
}

/** The results table; outputOrder lists the output schema's properties first. */
export function resultsTable(data, outputOrder = []) {
  const inputKeys = keys(data.map((r) => r.input));
  const outputKeys = keys(data.map((r) => r.output), outputOrder.filter((k) => data.some((r) => r.output && k in r.output)));
  const body = h("tbody", {}, data.map((r) => h("tr", { class: r.error ? "failed" : undefined },
    h("td", {}, String(r.index + 1)),
    inputKeys.map((k) => cell(r.input ? r.input[k] : undefined)),
    r.error
      ? h("td", { class: "record-error", colspan: String(Math.max(outputKeys.length, 1)) }, r.error)
      : (outputKeys.length ? outputKeys.map((k) => cell(r.output[k])) : h("td", {})))));
  const head = h("tr", {}, h("th", { scope: "col" }, "#"),
    inputKeys.map((k) => h("th", { scope: "col" }, k)),
    (outputKeys.length ? outputKeys : ["output"]).map((k) => h("th", { scope: "col", class: "output" }, k)));
  return h("div", { class: "scroll" }, h("table", { class: "results" }, h("thead", {}, head), body));
}

function csvValue(value) {
  if (value === undefined || value === null) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The rows as CSV: record, the input columns (input.NAME), the outputs, error. */
export function toCsv(data) {
  const inputKeys = keys(data.map((r) => r.input));
  const outputKeys = keys(data.map((r) => r.output));
  const header = ["record", ...inputKeys.map((k) => `input.${k}`), ...outputKeys, "error"];
  const lines = data.map((r) => [r.index + 1, ...inputKeys.map((k) => (r.input || {})[k]),
    ...outputKeys.map((k) => (r.output || {})[k]), r.error].map(csvValue).join(","));
  return [header.map(csvValue).join(","), ...lines].join("\r\n") + "\r\n";
}

/** Buttons that download the rows as CSV and as JSON, named after the job. */
export function exportButtons(data, jobId) {
  const base = `job-${jobId || "results"}`;
  return h("div", { class: "actions" },
    h("button", { type: "button", class: "secondary", onclick: () => download(`${base}.csv`, toCsv(data), "text/csv") }, "Download CSV"),
    h("button", { type: "button", class: "secondary", onclick: () => download(`${base}.json`, JSON.stringify(data, null, 2), "application/json") }, "Download JSON"));
}
