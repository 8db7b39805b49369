// A table whose rows are kept by key and updated in place: a snapshot changes
// the text nodes whose value changed and nothing else, so redrawing 200 models
// every two seconds costs no layout of the rest of the page.

import { h } from "../dom.js";

/**
 * A table with these column headings. update(items) takes [key, cells] pairs
 * in the order to show; a cell is text, or {text, href} for a link.
 */
export function keyedTable(className, headings) {
  const body = h("tbody", {});
  const rows = new Map(); // key -> {tr, texts: Text[]}
  let order = "";
  let shown = () => true; // which keys' rows to show

  function make(key, cells) {
    const texts = cells.map(() => document.createTextNode(""));
    const tr = h("tr", { dataset: { key } }, cells.map((cell, i) => {
      const content = cell && cell.href ? h("a", { href: cell.href }, texts[i]) : texts[i];
      return h(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, dataset: { col: headings[i].key } }, content);
    }));
    return { tr, texts };
  }

  function update(items) {
    const seen = new Set();
    for (const [key, cells] of items) {
      seen.add(key);
      let row = rows.get(key);
      if (!row) {
        row = make(key, cells);
        row.tr.hidden = !shown(key);
        rows.set(key, row);
      }
      cells.forEach((cell, i) => {
        const text = String(cell && cell.href ? cell.text : cell);
        if (row.texts[i].data !== text) row.texts[i].data = text;
      });
    }
    for (const [key, row] of rows) {
      if (!seen.has(key)) {
        row.tr.remove();
        rows.delete(key);
      }
    }
    const keys = items.map(([key]) => key).join("\n");
    if (keys !== order) { // only a new, gone or moved row reorders the body
      order = keys;
      const fragment = document.createDocumentFragment();
      for (const [key] of items) fragment.append(rows.get(key).tr);
      body.append(fragment);
    }
  }

  /** Shows only the rows whose key passes `test`. */
  function filter(test) {
    shown = test;
    for (const [key, row] of rows) row.tr.hidden = !shown(key);
  }

  const node = h("div", { class: "scroll" }, h("table", { class: className },
    h("thead", {}, h("tr", {}, headings.map((c) => h("th", { scope: "col" }, c.title)))), body));
  return { node, update, filter, get size() { return rows.size; } };
}
