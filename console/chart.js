// A small SVG line chart of one series over a sliding time window. The SVG is
// built once; each update rewrites one path's "d" and a few text nodes, so a
// chart redrawn every two seconds costs next to nothing. Its viewBox follows
// its width on screen (a ResizeObserver), so the labels are never stretched.

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 160;
const PAD = { left: 44, right: 8, top: 10, bottom: 18 };

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function label(x, y, anchor) {
  const node = svg("text", { x, y, "text-anchor": anchor });
  const text = document.createTextNode("");
  node.append(text);
  return { node, text };
}

/** A nice upper bound for the y axis: 1, 2 or 5 times a power of ten. */
function ceiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function short(value) {
  if (value >= 1000) return `${+(value / 1000).toFixed(1)}k`;
  return value >= 10 || value === 0 ? String(Math.round(value)) : value.toFixed(value >= 1 ? 1 : 2);
}

/**
 * A chart named `title` (its accessible name) with the unit `unit`.
 * Returns { node, update(points, windowMs, now), stop() }: points are [timeMs, value].
 */
export function lineChart(title, unit) {
  let width = 600;
  const node = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${HEIGHT}`, role: "img" });
  const name = svg("title");
  name.append(document.createTextNode(title));
  const bottom = HEIGHT - PAD.bottom;
  const xAxis = svg("line", { class: "axis", x1: PAD.left, y1: bottom, x2: width - PAD.right, y2: bottom });
  node.append(name, xAxis, svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }));
  const top = label(PAD.left - 4, PAD.top + 8, "end");
  const zero = label(PAD.left - 4, bottom, "end");
  const start = label(PAD.left, HEIGHT - 4, "start");
  const end = label(width - PAD.right, HEIGHT - 4, "end");
  const line = svg("path", { class: "line", d: "" });
  node.append(top.node, zero.node, start.node, end.node, line);
  zero.text.data = "0";
  end.text.data = "now";

  let last = null; // the arguments of the last update, to redraw at a new width

  function update(points, windowMs, now = Date.now()) {
    last = [points, windowMs, now];
    const max = ceiling(Math.max(0, ...points.map((p) => p[1])));
    const from = now - windowMs;
    const x = (t) => PAD.left + ((t - from) / windowMs) * (width - PAD.left - PAD.right);
    const y = (v) => bottom - (v / max) * (bottom - PAD.top);
    let d = "";
    for (const [t, v] of points) {
      if (t < from) continue;
      d += `${d ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    }
    line.setAttribute("d", d);
    top.text.data = short(max);
    start.text.data = `−${Math.round(windowMs / 60000)} min`;
    name.firstChild.data = `${title}: ${points.length ? short(points[points.length - 1][1]) : "no data"} ${unit} now`;
  }
  const resize = new ResizeObserver(([entry]) => {
    const measured = Math.round(entry.contentRect.width);
    if (!measured || measured === width) return;
    width = measured;
    node.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    xAxis.setAttribute("x2", width - PAD.right);
    end.node.setAttribute("x", width - PAD.right);
    if (last) update(...last);
  });
  resize.observe(node);
  return { node, update, stop: () => resize.disconnect() };
}
