// How the page reads a JobStats snapshot: REST JSON omits zeros and sends
// int64 as strings, so every figure goes through num(); and the cells of the
// model and version tables, in the order of their headings.

export const num = (value) => Number(value || 0);

export function seconds(value) {
  const s = num(value);
  if (s === 0) return "—";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  return s < 60 ? `${s.toFixed(2)} s` : `${(s / 60).toFixed(1)} min`;
}

export function percent(stats) {
  const finished = num(stats.succeeded) + num(stats.failed);
  return finished ? `${(num(stats.success_rate) * 100).toFixed(1)} %` : "—";
}

export function rate(value) {
  const r = num(value);
  return r === 0 ? "0" : r < 0.01 ? r.toExponential(1) : r.toFixed(2);
}

const duration = (d) => [seconds(d && d.mean_seconds), seconds(d && d.p95_seconds)];

export const MODEL_COLUMNS = [
  { key: "model", title: "Model" }, { key: "queued", title: "Pending" }, { key: "running", title: "Running" },
  { key: "succeeded", title: "Succeeded" }, { key: "failed", title: "Failed" }, { key: "cancelled", title: "Cancelled" },
  { key: "dead_lettered", title: "Dead-lettered" }, { key: "success_rate", title: "Success" },
  { key: "throughput", title: "Jobs/s" },
  { key: "execution_mean", title: "Run avg" }, { key: "execution_p95", title: "Run p95" },
  { key: "wait_mean", title: "Wait avg" }, { key: "wait_p95", title: "Wait p95" },
  { key: "workers", title: "Workers (busy)" },
];

export function modelCells(stats, deadLettered) {
  return [
    { text: stats.model, href: `#/models/${encodeURIComponent(stats.model)}` },
    num(stats.queued), num(stats.running), num(stats.succeeded), num(stats.failed), num(stats.cancelled),
    deadLettered, percent(stats), rate(stats.throughput_per_second),
    ...duration(stats.execution), ...duration(stats.queue_wait),
    `${num(stats.live_workers)} (${num(stats.busy_workers)})`,
  ];
}

export const VERSION_COLUMNS = [
  { key: "model", title: "Model" }, { key: "version", title: "Version" },
  { key: "queue_length", title: "Queue length" }, { key: "drained", title: "Drained" },
  { key: "queued", title: "Pending" }, { key: "running", title: "Running" },
  { key: "succeeded", title: "Succeeded" }, { key: "failed", title: "Failed" }, { key: "cancelled", title: "Cancelled" },
  { key: "success_rate", title: "Success" },
  { key: "execution_mean", title: "Run avg" }, { key: "execution_p95", title: "Run p95" },
  { key: "wait_mean", title: "Wait avg" }, { key: "wait_p95", title: "Wait p95" },
  { key: "workers", title: "Workers" },
];

export function versionCells(model, stats) {
  return [
    { text: model, href: `#/models/${encodeURIComponent(model)}` },
    stats.version || "(earlier release)",
    num(stats.queue_length), stats.drained ? "yes" : "no",
    num(stats.queued), num(stats.running), num(stats.succeeded), num(stats.failed), num(stats.cancelled),
    percent(stats), ...duration(stats.execution), ...duration(stats.queue_wait), num(stats.live_workers),
  ];
}

/** The overall figures, as [key, label, value] for the stat cards. */
export function overallFigures(stats, deadLettered) {
  return [
    ["queued", "Pending", num(stats.queued)], ["running", "Running", num(stats.running)],
    ["succeeded", "Succeeded", num(stats.succeeded)], ["failed", "Failed", num(stats.failed)],
    ["cancelled", "Cancelled", num(stats.cancelled)], ["dead_lettered", "Dead-lettered", deadLettered],
    ["success_rate", "Success rate", percent(stats)], ["throughput", "Jobs/s", rate(stats.throughput_per_second)],
    ["execution_mean", "Run avg", seconds(stats.execution && stats.execution.mean_seconds)],
    ["execution_p95", "Run p95", seconds(stats.execution && stats.execution.p95_seconds)],
    ["wait_mean", "Queue wait avg", seconds(stats.queue_wait && stats.queue_wait.mean_seconds)],
    ["wait_p95", "Queue wait p95", seconds(stats.queue_wait && stats.queue_wait.p95_seconds)],
    ["workers", "Live workers", num(stats.live_workers)],
  ];
}
