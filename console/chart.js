// A small SVG line chart of one series over a sliding time window. The SVG is
// built once; each update rewrites one path's "d" and a few text nodes, so a
// chart redrawn every two seconds costs next to nothing.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
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
 * Returns { node, update(points, windowMs, now) }: points are [timeMs, value].
 */
export function lineChart(title, unit) {
  const node = svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", preserveAspectRatio: "none" });
  const name = svg("title");
  name.append(document.createTextNode(title));
  const bottom = HEIGHT - PAD.bottom;
  node.append(name,
    svg("line", { class: "axis", x1: PAD.left, y1: bottom, x2: WIDTH - PAD.right, y2: bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }));
  const top = label(PAD.left - 4, PAD.top + 8, "end");
  const zero = label(PAD.left - 4, bottom, "end");
  const start = label(PAD.left, HEIGHT - 4, "start");
  const end = label(WIDTH - PAD.right, HEIGHT - 4, "end");
  const line = svg("path", { class: "line", d: "", "vector-effect": "non-scaling-stroke" });
  node.append(top.node, zero.node, start.node, end.node, line);
  zero.text.data = "0";
  end.text.data = "now";

  function update(points, windowMs, now = Date.now()) {
    const max = ceiling(Math.max(0, ...points.map((p) => p[1])));
    const from = now - windowMs;
    const x = (t) => PAD.left + ((t - from) / windowMs) * (WIDTH - PAD.left - PAD.right);
    const y = (v) => bottom - (v / max) * (bottom - PAD.top);
    let d = "";
    for (const [t, v] of points) {
      if (t < from) continue;
      d += `${d ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    }
    line.setAttribute("d", d);
    top.text.data = `${short(max)} ${unit}`;
    start.text.data = `−${Math.round(windowMs / 60000)} min`;
    name.firstChild.data = `${title}: ${points.length ? short(points[points.length - 1][1]) : "no data"} ${unit} now`;
  }
  return { node, update };
}
