// Building the page from data without ever parsing user text as HTML: every
// string becomes a text node, every attribute is set one by one. Nothing in the
// console assigns innerHTML, so a model's description cannot inject markup.

/** An element: h("a", {href: "#/x", class: "c"}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name in node && typeof value !== "string") {
      node[name] = value; // properties: checked, value, disabled, ...
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

/** Appends strings (as text), nodes and arrays of either. */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Empties a node and fills it with children. */
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** A labelled form field: the label names the input, for keyboards and readers. */
export function field(label, input, hint = "") {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  input.setAttribute("aria-describedby", `${id}-error`);
  return h("div", { class: "field" },
    h("label", { for: id }, label), input, hint ? h("p", { class: "hint" }, hint) : null, error);
}

/** Shows (or clears, with "") the error under a field made by field(). */
export function fieldError(input, message) {
  const error = document.getElementById(`${input.id}-error`);
  if (error) error.textContent = message;
  input.setAttribute("aria-invalid", message ? "true" : "false");
}

/** A date as the reader's local time; "" for none. */
export function when(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** A download of text as a file, made in the page (no server round trip). */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
