// The consensus builder's two translations: its form to the paper's
// Algorithm 1 YAML (what VerifyConsensusModel checks and ImportConsensusModel
// stores, so what is verified is what is created), and a problem's
// "formula:LINE:COLUMN" back to a caret under that column.

import { h } from "../dom.js";

// JSON strings are YAML double-quoted scalars: any name, alias or formula
// survives quoting exactly, newlines and quotes included.
const quote = (text) => JSON.stringify(text);

/** The formula as the API reads it from the YAML: trimmed of outer whitespace. */
export const verifiedFormula = (formula) => formula.trim();

/**
 * Algorithm 1 YAML for a consensus model `name` over children
 * [{alias, model, version, output}] with `formula`.
 */
export function algorithm1(name, children, formula) {
  const lines = [`${quote(name)}:`, "  CHILDMODELS:"];
  for (const child of children) {
    lines.push(`    ${quote(child.alias)}:`, `      NAME: ${quote(child.model)}`);
    if (child.version) lines.push(`      VERSION: ${quote(child.version)}`);
    if (child.output) lines.push(`      OUTPUT: ${quote(child.output)}`);
  }
  lines.push(`  FORMULA: ${quote(verifiedFormula(formula))}`);
  return `${lines.join("\n")}\n`;
}

/** {line, column} (1-based) of a "formula:LINE:COLUMN" location; null for any other. */
export function formulaPosition(location) {
  const match = /^formula:(\d+):(\d+)$/.exec(location || "");
  return match ? { line: Number(match[1]), column: Number(match[2]) } : null;
}

/** Spaces (tabs where the line has tabs) up to the column, then "^". */
function caretLine(text, column) {
  const chars = Array.from(text); // the API counts code points, not UTF-16 units
  let pad = "";
  for (let i = 0; i < column - 1; i += 1) pad += chars[i] === "\t" ? "\t" : " ";
  return `${pad}^`;
}

/**
 * The verified formula in a <pre>, each problem located in it marked by a
 * caret line under its line and column, followed by its message.
 */
export function markedFormula(formula, problems) {
  const lines = verifiedFormula(formula).split("\n");
  const pre = h("pre", { class: "formula-marked", "aria-label": "Problems marked where they are" });
  lines.forEach((text, index) => {
    pre.append(document.createTextNode(`${text}\n`));
    for (const problem of problems) {
      const at = formulaPosition(problem.location);
      if (!at || at.line !== index + 1) continue;
      pre.append(h("span", { class: "caret", dataset: { line: at.line, column: at.column } },
        `${caretLine(text, at.column)} ${problem.message}`), document.createTextNode("\n"));
    }
  });
  return pre;
}
