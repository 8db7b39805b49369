// A small, safe subset of Markdown for model descriptions, built as DOM nodes:
// paragraphs, line breaks, **strong**, *em*, `code`, fenced code blocks, bullet
// and numbered lists, and links whose URL is http, https or mailto. Every piece
// of the source becomes a text node; nothing is ever parsed as HTML, so
// `<img onerror=...>` shows as the characters it is, and a link to any other
// scheme (javascript:, data:) stays plain text.

import { h } from "./dom.js";

const SAFE_URL = /^(https?:\/\/|mailto:)[^\s]+$/i;
// One inline token at a time: code first (its content is never parsed further),
// then links, strong, em.
const INLINE = /(`[^`\n]+`)|(\[[^\]\n]+\]\([^)\s]+\))|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*)/;

/** Whether a link's URL may become an <a href>: http, https or mailto only. */
export function safeUrl(url) {
  return SAFE_URL.test(url.trim());
}

function link(token) {
  const close = token.indexOf("](");
  const label = token.slice(1, close);
  const url = token.slice(close + 2, -1);
  if (!safeUrl(url)) return [token]; // shown as the text it is
  return [h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" }, ...inline(label))];
}

/** The nodes of one line's inline markup (strings become text nodes in h/append). */
export function inline(text) {
  const out = [];
  let rest = text;
  for (;;) {
    const match = INLINE.exec(rest);
    if (!match) break;
    if (match.index > 0) out.push(rest.slice(0, match.index));
    const [token, code, anchor, strong] = match;
    if (code) out.push(h("code", {}, token.slice(1, -1)));
    else if (anchor) out.push(...link(token));
    else if (strong) out.push(h("strong", {}, ...inline(token.slice(2, -2))));
    else out.push(h("em", {}, ...inline(token.slice(1, -1))));
    rest = rest.slice(match.index + token.length);
  }
  if (rest) out.push(rest);
  return out;
}

function paragraph(lines) {
  const children = [];
  lines.forEach((line, i) => {
    if (i > 0) children.push(h("br"));
    children.push(...inline(line));
  });
  return h("p", {}, children);
}

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;

function list(lines, start, pattern, tag) {
  const items = [];
  let i = start;
  while (i < lines.length && pattern.test(lines[i])) {
    items.push(h("li", {}, ...inline(pattern.exec(lines[i])[1])));
    i += 1;
  }
  return [h(tag, {}, items), i];
}

function fence(lines, start) {
  const body = [];
  let i = start + 1;
  while (i < lines.length && !lines[i].trimStart().startsWith("```")) {
    body.push(lines[i]);
    i += 1;
  }
  return [h("pre", {}, h("code", {}, body.join("\n"))), i + 1];
}

/** A <div class="markdown"> of the text's blocks. */
export function markdown(text) {
  const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let pending = [];
  const flush = () => {
    if (pending.length) blocks.push(paragraph(pending));
    pending = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let block = null;
    if (line.trimStart().startsWith("```")) block = fence(lines, i);
    else if (BULLET.test(line)) block = list(lines, i, BULLET, "ul");
    else if (NUMBERED.test(line)) block = list(lines, i, NUMBERED, "ol");
    if (block) {
      flush();
      blocks.push(block[0]);
      i = block[1];
    } else {
      if (line.trim()) pending.push(line);
      else flush();
      i += 1;
    }
  }
  flush();
  return h("div", { class: "markdown" }, blocks);
}
