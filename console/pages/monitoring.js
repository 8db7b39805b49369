// Monitoring, for superusers: the live job statistics of WatchJobStats (every
// 2 s over 15 minutes), overall, per model and per version, charts of the
// snapshots received since the page opened, and the dead-lettered jobs. Each
// snapshot only rewrites the text nodes whose figure changed.

import { isSuperuser, stream } from "../api.js";
import { lineChart } from "../chart.js";
import { field, fill, h } from "../dom.js";
import { fail } from "../app.js";
import { countByModel, deadLetterList, deadLetters } from "./monitoring_dead.js";
import { keyedTable } from "./monitoring_table.js";
import { MODEL_COLUMNS, VERSION_COLUMNS, modelCells, num, overallFigures, versionCells } from "./monitoring_stats.js";

const INTERVAL_S = 2;
const WINDOW_S = 900;
const WINDOW_MS = WINDOW_S * 1000;
const DEAD_LETTER_POLL_MS = 5000;
const RETRY_MS = 2000;
const STALE_MS = (3 * INTERVAL_S + 4) * 1000; // no snapshot for this long: reconnect
const WATCH = `/v1/admin/stats:watch?interval_seconds=${INTERVAL_S}&window_seconds=${WINDOW_S}`;
const PORTS = [["registry", 9461], ["execution", 9462], ["admin", 9463], ["scheduler", 9464], ["worker", 9465], ["audit", 9466]];

function overallCards() {
  const texts = new Map();
  const grid = h("div", { class: "grid overall", role: "group", "aria-label": "All models" });
  for (const [key, name] of overallFigures({}, 0)) {
    const text = document.createTextNode("…");
    texts.set(key, text);
    grid.append(h("div", { class: "stat", dataset: { stat: key } }, h("b", {}, text), name));
  }
  const update = (stats, dead) => {
    for (const [key, , value] of overallFigures(stats, dead)) {
      const text = texts.get(key);
      if (text.data !== String(value)) text.data = String(value);
    }
  };
  return { node: grid, update };
}

function links() {
  return h("section", { class: "card links" },
    h("h2", {}, "Elsewhere"),
    h("p", {}, h("a", { href: "/docs" }, "The REST API in Swagger UI"), " (/docs, with the OpenAPI document at ",
      h("a", { href: "/openapi.json" }, "/openapi.json"), ")."),
    h("p", {}, "Prometheus metrics: each process serves /metrics on a port of its own on the gateway's host ",
      "(MODELGW_HOST), not through this proxy. With the defaults of make up:"),
    h("ul", { class: "ports" }, PORTS.map(([name, port]) => h("li", {}, h("code", {}, `http://127.0.0.1:${port}/metrics`), ` — ${name}`))),
    h("p", { class: "hint" }, "MODELGW_<PROCESS>_METRICS_PORT sets each port; 0 turns it off."));
}

function refused(main) {
  fill(main, h("h1", {}, "Monitoring"),
    h("p", { class: "refused" }, "Only superusers see the monitoring page: job statistics cover every user's jobs."));
}

export async function render(main) {
  if (!(await isSuperuser())) {
    refused(main);
    return undefined;
  }
  // not a live region: announcing a snapshot every 2 s would drown a screen reader
  const status = h("p", { class: "count" }, "Connecting…");
  const overall = overallCards();
  const throughput = lineChart("Throughput, all models", "jobs/s");
  const depth = lineChart("Queue depth, all models", "queued");
  const models = keyedTable("monitor-models", MODEL_COLUMNS);
  const versions = keyedTable("monitor-versions", VERSION_COLUMNS);
  const dead = deadLetterList();
  const only = h("input", { type: "search", id: "monitor-filter", placeholder: "rdkit", autocomplete: "off" });
  only.addEventListener("input", () => {
    const text = only.value.trim().toLowerCase();
    models.filter((key) => key.includes(text));
    versions.filter((key) => key.split("@")[0].includes(text));
  });
  const noVersions = h("p", { class: "hint" }, "No version has its own queue in use yet.");
  fill(main,
    h("h1", {}, "Monitoring"),
    h("p", { class: "hint" }, `Live job statistics, a snapshot every ${INTERVAL_S} s; finished jobs, times and rates cover the last 15 minutes. `,
      "The charts start when this page opens: they show the snapshots received since then, 15 minutes at most."),
    status, overall.node,
    h("div", { class: "charts" },
      h("figure", {}, throughput.node, h("figcaption", {}, "Throughput (jobs finished per second)")),
      h("figure", {}, depth.node, h("figcaption", {}, "Queue depth (jobs pending)"))),
    h("h2", {}, "Per model"), field("Filter models", only, "Shows the models whose name contains this."), models.node,
    h("h2", {}, "Per version"), noVersions, versions.node,
    h("h2", {}, "Dead-lettered jobs"), dead.node,
    links());

  const points = { throughput: [], depth: [] };
  let snapshot = null;
  let deadCounts = new Map();
  let deadTotal = 0;
  let last = 0;

  const draw = () => {
    if (!snapshot) return;
    const all = snapshot.overall || {};
    overall.update(all, deadTotal);
    const byName = [...(snapshot.models || [])].sort((a, b) => (a.model < b.model ? -1 : 1));
    models.update(byName.map((m) => [m.model, modelCells(m, deadCounts.get(m.model) || 0)]));
    versions.update(byName.flatMap((m) => (m.versions || []).map((v) => [`${m.model}@${v.version || ""}`, versionCells(m.model, v)])));
    noVersions.hidden = versions.size > 0;
    versions.node.hidden = versions.size === 0;
  };

  const receive = (message) => {
    snapshot = message.stats || {};
    const now = Date.now();
    last = now;
    const all = snapshot.overall || {};
    for (const [series, value] of [[points.throughput, num(all.throughput_per_second)], [points.depth, num(all.queued)]]) {
      series.push([now, value]);
      while (series.length && series[0][0] < now - WINDOW_MS) series.shift();
    }
    throughput.update(points.throughput, WINDOW_MS, now);
    depth.update(points.depth, WINDOW_MS, now);
    draw();
    status.textContent = `Live: last snapshot ${new Date(now).toLocaleTimeString()}, ${(snapshot.models || []).length} models.`;
  };

  let stopStream = null;
  let stopped = false;
  let retry = 0;
  const connect = () => {
    clearTimeout(retry);
    if (stopStream) stopStream();
    last = Date.now();
    stopStream = stream(WATCH, receive, (error) => {
      if (error.status === 401 || error.status === 403) {
        stopped = true;
        fail(error);
        return;
      }
      status.textContent = "The statistics stream stopped; reconnecting…";
      retry = setTimeout(() => { if (!stopped) connect(); }, RETRY_MS);
    });
  };
  connect();
  // a stream that ends without an error, or goes quiet, is reopened too
  const watchdog = setInterval(() => {
    if (!stopped && Date.now() - last > STALE_MS) connect();
  }, 1000);

  let polling = false;
  const poll = async () => {
    if (polling || stopped) return;
    polling = true;
    try {
      const jobs = await deadLetters();
      deadCounts = countByModel(jobs, WINDOW_MS);
      deadTotal = [...deadCounts.values()].reduce((a, b) => a + b, 0);
      dead.update(jobs);
      draw();
    } catch (error) {
      fail(error);
    } finally {
      polling = false;
    }
  };
  poll();
  const poller = setInterval(poll, DEAD_LETTER_POLL_MS);

  return () => {
    stopped = true;
    clearInterval(watchdog);
    clearTimeout(retry);
    clearInterval(poller);
    throughput.stop();
    depth.stop();
    if (stopStream) stopStream();
  };
}
