// My jobs (ListJobs, newest first), filtered by model and status, a page at a
// time, with cancel for the jobs still QUEUED or RUNNING. The page reloads
// every few seconds while open, so statuses move without a reload.

import { get, query } from "../api.js";
import { fill, h, when } from "../dom.js";
import { fail, notify } from "../app.js";
import { badge, cancelJob, isFinal } from "./job_live.js";

const REFRESH_MS = 3000;
const SIZES = [10, 25, 50, 100];
const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
const enc = encodeURIComponent;

function row(job, onCancel) {
  return h("tr", {},
    h("td", {}, h("a", { href: `#/jobs/${enc(job.id)}`, class: "job-id" }, job.id)),
    h("td", {}, h("a", { href: `#/models/${enc(job.model)}` }, job.model)),
    h("td", {}, job.version || ""),
    h("td", {}, badge(job.status)),
    h("td", { class: "num" }, String(job.record_count ?? 0)),
    h("td", {}, job.submitter || ""),
    h("td", {}, when(job.create_time)),
    h("td", {}, isFinal(job.status) ? null
      : h("button", { type: "button", class: "danger", "aria-label": `Cancel job ${job.id}`, onclick: () => onCancel(job) }, "Cancel")));
}

export async function render(main, _params, search) {
  const model = h("input", { type: "text", id: "jobs-model", value: search.get("model") || "", placeholder: "rdkit.logp" });
  const status = h("select", { id: "jobs-status" }, h("option", { value: "" }, "Any"),
    STATUSES.map((s) => h("option", { value: `JOB_STATUS_${s}`, selected: search.get("status") === s }, s)));
  const size = h("select", { id: "jobs-size" }, SIZES.map((n) => h("option", { value: String(n), selected: n === 25 }, String(n))));
  const body = h("tbody", {});
  const count = h("p", { class: "count", role: "status" });
  const previous = h("button", { type: "button", class: "secondary" }, "Previous page");
  const next = h("button", { type: "button", class: "secondary" }, "Next page");
  const tokens = [""]; // the page tokens of the pages read so far; the last is the page shown
  let nextToken = "";
  let loading = false;
  let shownKey = "";
  let again = false; // a filter or page changed while a load was under way

  const load = async () => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    again = false;
    try {
      const reply = await get(`/v1/jobs${query({ model: model.value.trim(), status: status.value, page_size: size.value, page_token: tokens.at(-1) })}`);
      const jobs = reply.jobs || [];
      // Rebuilt only when something changed, so a refresh keeps the keyboard's focus.
      const key = JSON.stringify(jobs.map((job) => [job.id, job.status]));
      if (key !== shownKey) {
        const fragment = document.createDocumentFragment();
        for (const job of jobs) fragment.append(row(job, cancel));
        body.replaceChildren(fragment);
        shownKey = key;
      }
      nextToken = reply.next_page_token || "";
      count.textContent = `${jobs.length} job${jobs.length === 1 ? "" : "s"}${tokens.length > 1 ? ` on page ${tokens.length}` : ""}`;
      previous.hidden = tokens.length < 2;
      next.hidden = !nextToken;
    } catch (error) {
      fail(error);
    } finally {
      loading = false;
    }
    if (again) await load();
  };
  async function cancel(job) {
    try {
      await cancelJob(job.id);
      notify(`Job ${job.id} cancelled.`);
    } catch (error) {
      fail(error);
    }
    await load();
  }
  const restart = () => { tokens.splice(1); load(); };
  previous.addEventListener("click", () => { tokens.pop(); load(); });
  next.addEventListener("click", () => { tokens.push(nextToken); load(); });
  status.addEventListener("change", restart);
  size.addEventListener("change", restart);
  const form = h("form", { class: "filters", role: "search", onsubmit: (event) => { event.preventDefault(); restart(); } },
    h("label", { for: "jobs-model" }, "Model"), model,
    h("label", { for: "jobs-status" }, "Status"), status,
    h("label", { for: "jobs-size" }, "Per page"), size,
    h("button", { type: "submit" }, "Filter"));
  fill(main,
    h("h1", {}, "Jobs"), form, count,
    h("div", { class: "scroll" }, h("table", { class: "jobs" },
      h("thead", {}, h("tr", {}, ["Job", "Model", "Version", "Status", "Records", "Submitter", "Submitted", ""].map((t) => h("th", { scope: "col" }, t)))),
      body)),
    h("div", { class: "pager" }, previous, next));
  await load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}
