// One job: its timeline of statuses, the version it runs and why, its queue
// wait and run time, its error, a consensus job's children, and its results.
// Live (WatchJob) while the job is not final.

import { ApiError, get } from "../api.js";
import { fill, h, when } from "../dom.js";
import { fail } from "../app.js";
import { exportButtons, resultsTable, rows } from "../results.js";
import { badge, cancelJob, isFinal, routeName, statusLine, statusName, watchJob } from "./job_live.js";

const enc = encodeURIComponent;

function seconds(value) {
  return value === undefined || value === null ? "—" : `${Number(value).toFixed(3)} s`;
}

function facts(job) {
  const route = routeName(job.version_route);
  const pairs = [
    ["Model", h("a", { href: `#/models/${enc(job.model)}` }, job.model)],
    ["Version", job.version || "—"],
    ["Why this version", route ? [route.toLowerCase(), job.rollout_id ? ` (rollout ${job.rollout_id})` : ""] : "not recorded"],
    ["Submitter", job.submitter || ""],
    ["Records", String(job.record_count ?? 0)],
    ["Attempts", String(job.attempts ?? 0)],
    ["Queue wait", job.start_time ? seconds(job.queue_seconds) : "—"],
    ["Run time", job.end_time && job.start_time ? seconds(job.run_seconds) : "—"],
    job.parent_id ? ["Parent job", h("a", { href: `#/jobs/${enc(job.parent_id)}`, class: "job-id" }, job.parent_id)] : null,
    job.idempotency_key ? ["Idempotency key", job.idempotency_key] : null,
  ];
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function timeline(job) {
  return h("ol", { class: "timeline", "aria-label": "Timeline" }, (job.transitions || []).map((t) =>
    h("li", {}, h("span", { class: "transition" }, statusName(t.status)), h("time", { datetime: t.time || "" }, when(t.time)))));
}

function children(job) {
  if (!(job.children || []).length) return null;
  const body = job.children.map((child) => h("tr", {},
    h("td", {}, child.alias),
    h("td", {}, h("a", { href: `#/models/${enc(child.model)}` }, child.model)),
    h("td", {}, child.version || ""),
    h("td", {}, routeName(child.version_route).toLowerCase()),
    h("td", {}, badge(child.status)),
    h("td", {}, child.job_id ? h("a", { href: `#/jobs/${enc(child.job_id)}`, class: "job-id" }, child.job_id) : "not submitted yet")));
  return [h("h2", {}, "Child jobs"), h("div", { class: "scroll" }, h("table", { class: "children" },
    h("thead", {}, h("tr", {}, ["Alias", "Model", "Version", "Why this version", "Status", "Child job"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, body)))];
}

function results(job) {
  if (job.status !== "JOB_STATUS_SUCCEEDED") return null;
  const data = rows(job.results);
  return [h("h2", {}, "Results"), resultsTable(data), exportButtons(data, job.id)];
}

function show(main, job, onCancel) {
  fill(main,
    h("p", {}, h("a", { href: "#/jobs" }, "← Jobs")),
    h("h1", { class: "job-id" }, `Job ${job.id}`),
    statusLine(job),
    isFinal(job.status) ? null
      : h("div", { class: "actions" }, h("button", { type: "button", class: "danger", onclick: onCancel }, "Cancel job")),
    facts(job),
    h("h2", {}, "Timeline"), timeline(job),
    children(job),
    results(job));
}

export async function render(main, [id]) {
  let job;
  try {
    job = (await get(`/v1/jobs/${enc(id)}`)).job;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    fill(main, h("h1", {}, "Job not found"),
      h("p", { class: "error" }, `Job ${id}: not found or not visible to you.`),
      h("p", {}, h("a", { href: "#/jobs" }, "Your jobs")));
    return undefined;
  }
  const onCancel = async () => {
    try {
      show(main, await cancelJob(id), onCancel);
    } catch (error) {
      fail(error);
    }
  };
  show(main, job, onCancel);
  if (isFinal(job.status)) return undefined;
  return watchJob(id, (next) => show(main, next, onCancel), fail);
}
