// Try a model: a form from the chosen version's input schema, then the job it
// submits, live (QUEUED with its place, RUNNING, then its final status), then
// its results per record, downloadable as CSV or JSON.

import { explain, get, post } from "../api.js";
import { fill, h, field } from "../dom.js";
import { fail } from "../app.js";
import { exportButtons, resultsTable, rows } from "../results.js";
import { cancelJob, isFinal, statusLine, watchJob } from "./job_live.js";
import { inputArea } from "./try_input.js";

const enc = encodeURIComponent;

function outputOrder(version) {
  const schema = version.output_schema || {};
  return Object.keys(schema.properties || {});
}

/** The live part: the job's status, a cancel button while it runs, then its results. */
function showJob(box, job, records, version, onCancel) {
  const parts = [
    h("p", {}, "Job ", h("a", { href: `#/jobs/${enc(job.id)}`, class: "job-id" }, job.id), ` on version ${job.version}`),
    statusLine(job),
  ];
  if (!isFinal(job.status)) {
    parts.push(h("div", { class: "actions" }, h("button", { type: "button", class: "danger", onclick: onCancel }, "Cancel job")));
  }
  if (job.status === "JOB_STATUS_SUCCEEDED") {
    const data = rows(job.results, records);
    parts.push(h("h2", {}, "Results"), resultsTable(data, outputOrder(version)), exportButtons(data, job.id));
  }
  fill(box, parts);
}

export async function render(main, [name]) {
  const model = (await get(`/v1/models/${enc(name)}`)).model;
  const versions = model.versions || [];
  if (!versions.length) {
    fill(main, h("h1", {}, `Try ${model.name}`), h("p", {}, "This model has no versions yet: there is nothing to run."));
    return undefined;
  }
  const chosen = h("select", { id: "try-version" },
    versions.map((v) => h("option", { value: v, selected: v === model.resolved_version },
      v === model.resolved_version ? `${v} (runs by default)` : v)));
  const inputBox = h("div", {});
  const submitError = h("p", { class: "error", role: "alert" });
  const jobBox = h("section", { "aria-label": "Job", "aria-live": "polite" });
  const run = h("button", { type: "submit" }, "Run");
  let input = null;
  let version = null;
  let stopWatch = null;

  const loadVersion = async () => {
    fill(inputBox, h("p", {}, "Loading the version's input schema…"));
    try {
      version = (await get(`/v1/models/${enc(name)}/versions/${enc(chosen.value)}`)).version;
      input = inputArea(version.input_schema || {});
      fill(inputBox, version.notes ? h("p", { class: "hint" }, version.notes) : null, input.node);
    } catch (error) {
      fill(inputBox, h("p", { class: "error" }, explain(error)));
      input = null;
    }
  };

  const watch = (job, records) => {
    const onCancel = async () => {
      try {
        showJob(jobBox, await cancelJob(job.id), records, version, onCancel);
      } catch (error) {
        fail(error);
      }
    };
    showJob(jobBox, job, records, version, onCancel);
    if (stopWatch) stopWatch();
    stopWatch = watchJob(job.id, async (next) => {
      let shownJob = next;
      try {
        // A final state without its results (a stream that gave only the status): read them.
        if (next.status === "JOB_STATUS_SUCCEEDED" && !(next.results || []).length && next.record_count) {
          shownJob = (await get(`/v1/jobs/${enc(job.id)}`)).job;
        }
      } catch (error) {
        fail(error);
      }
      showJob(jobBox, shownJob, records, version, onCancel);
    }, fail);
  };

  const submit = async (event) => {
    event.preventDefault();
    submitError.textContent = "";
    const records = input ? input.read() : null;
    if (!records) return;
    run.disabled = true;
    try {
      const reply = await post("/v1/jobs", { model: name, version: chosen.value, records });
      watch(reply.job, records);
    } catch (error) {
      if (!input.showError(error)) submitError.textContent = explain(error);
    } finally {
      run.disabled = false;
    }
  };

  chosen.addEventListener("change", loadVersion);
  fill(main,
    h("p", {}, h("a", { href: `#/models/${enc(name)}` }, `← ${model.display_name || model.name}`)),
    h("h1", {}, `Try ${model.name}`),
    h("form", { class: "card", novalidate: true, onsubmit: submit },
      field("Version", chosen), inputBox, h("div", { class: "actions" }, run), submitError),
    jobBox);
  await loadVersion();
  return () => { if (stopWatch) stopWatch(); };
}
