// A form for one input record, generated from a model version's input JSON
// Schema. It covers the flat records most models take (strings, numbers,
// integers, booleans, enums and arrays of those); expressible() says when a
// schema needs more, and the page then offers only its raw JSON editor.
// Only what is cheap is checked here (required fields): the API validates
// every record against the full schema and names the field it refuses.

import { field, fieldError, h } from "./dom.js";

const SCALARS = new Set(["string", "number", "integer", "boolean"]);

function kind(schema) {
  if (!schema || typeof schema !== "object") return "";
  if (Array.isArray(schema.enum)) return "enum";
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  return type || "";
}

function scalar(schema) {
  return SCALARS.has(kind(schema)) || kind(schema) === "enum";
}

function properties(schema) {
  return schema && typeof schema.properties === "object" ? Object.entries(schema.properties) : [];
}

/** Whether the form can express every property of the schema's records. */
export function expressible(schema) {
  if (kind(schema) !== "object" || properties(schema).length === 0) return false;
  return properties(schema).every(([, prop]) => scalar(prop) || (kind(prop) === "array" && scalar(prop.items)));
}

/**
 * The one required string property when the records are just that (like
 * rdkit's {"smiles": ...}), so that a text area can take one record a line;
 * "" otherwise.
 */
export function lineField(schema) {
  if (kind(schema) !== "object") return "";
  const required = schema.required || [];
  if (required.length !== 1) return "";
  const prop = (schema.properties || {})[required[0]];
  return kind(prop) === "string" ? required[0] : "";
}

function numberInput(prop) {
  const attrs = { type: "number", step: prop.multipleOf ?? (kind(prop) === "integer" ? 1 : "any") };
  attrs.min = prop.minimum ?? prop.exclusiveMinimum;
  attrs.max = prop.maximum ?? prop.exclusiveMaximum;
  return h("input", attrs);
}

function stringInput(prop) {
  return h("input", {
    type: "text", minlength: prop.minLength, maxlength: prop.maxLength, pattern: prop.pattern,
    placeholder: prop.examples ? String(prop.examples[0]) : undefined,
  });
}

function choice(values, required) {
  const options = values.map((value, index) => h("option", { value: String(index) },
    typeof value === "string" ? value : JSON.stringify(value)));
  return h("select", {}, required ? null : h("option", { value: "" }, "(not set)"), options);
}

function control(prop, required) {
  const k = kind(prop);
  if (k === "enum") return choice(prop.enum, required);
  if (k === "boolean") return choice([true, false], required);
  if (k === "number" || k === "integer") return numberInput(prop);
  if (k === "array") return h("textarea", { rows: 3 });
  return stringInput(prop);
}

function parseItem(text, prop) {
  const k = kind(prop);
  if (k === "number" || k === "integer") return Number(text);
  if (k === "boolean") return text === "true";
  if (k === "enum") return prop.enum.find((v) => String(v) === text) ?? text;
  return text;
}

function readControl(input, prop) {
  const k = kind(prop);
  const text = input.value;
  if (text.trim() === "") return undefined;
  if (k === "enum") return prop.enum[Number(text)];
  if (k === "boolean") return [true, false][Number(text)];
  if (k === "number" || k === "integer") return Number(text);
  if (k === "array") {
    const parts = text.includes("\n") ? text.split("\n") : text.split(",");
    return parts.map((p) => p.trim()).filter((p) => p !== "").map((p) => parseItem(p, prop.items));
  }
  return text;
}

function preset(input, prop) {
  if (prop.default === undefined) return;
  const k = kind(prop);
  if (k === "enum") input.value = String(prop.enum.findIndex((v) => v === prop.default));
  else if (k === "boolean") input.value = prop.default ? "0" : "1";
  else if (k === "array") input.value = (prop.default || []).join(", ");
  else input.value = String(prop.default);
}

function hint(prop, required) {
  const parts = [required ? "Required." : "", prop.title || "", prop.description || ""];
  if (kind(prop) === "array") parts.push("One value a line, or separated by commas.");
  return parts.filter(Boolean).join(" ");
}

/**
 * The form for one record: {node, read(), showError(pointer, message), clear()}.
 * read() returns the record, or null after marking the required fields left empty.
 */
export function recordForm(schema, idPrefix) {
  const required = new Set(schema.required || []);
  const inputs = new Map();
  const fields = properties(schema).map(([name, prop]) => {
    const input = control(prop, required.has(name));
    input.id = `${idPrefix}-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    input.name = name;
    preset(input, prop);
    inputs.set(name, [input, prop]);
    return field(name, input, hint(prop, required.has(name)));
  });
  const clear = () => { for (const [input] of inputs.values()) fieldError(input, ""); };
  const read = () => {
    clear();
    const record = {};
    let complete = true;
    for (const [name, [input, prop]] of inputs) {
      const value = readControl(input, prop);
      if (value !== undefined) record[name] = value;
      else if (required.has(name)) {
        fieldError(input, "Required.");
        complete = false;
      }
    }
    return complete ? record : null;
  };
  const showError = (pointer, message) => {
    const name = pointer.split("/").filter(Boolean)[0] || "";
    const target = inputs.get(name) || inputs.values().next().value;
    if (!target) return false;
    fieldError(target[0], message);
    target[0].focus();
    return true;
  };
  return { node: h("div", { class: "record-form" }, fields), read, showError, clear };
}

/** A field the API named, "records[3]/smiles": [3, "/smiles"]; null for another. */
export function recordPath(fieldName) {
  const match = /^records\[(\d+)\](.*)$/.exec(fieldName || "");
  return match ? [Number(match[1]), match[2]] : null;
}
