// The dead-lettered jobs: FAILED jobs whose error.reason is "dead_letter"
// (they failed their delivery limit). ListJobs lists every job to a superuser;
// the page polls it, since no stream carries failed jobs.

import { get, query } from "../api.js";
import { h, when } from "../dom.js";
import { keyedTable } from "./monitoring_table.js";

const PAGE = 1000;
const MOST = 5000;

/** Every dead-lettered job ListJobs returns, newest first (at most MOST failed jobs read). */
export async function deadLetters() {
  const out = [];
  let pageToken = "";
  let read = 0;
  do {
    const reply = await get(`/v1/jobs${query({ status: "JOB_STATUS_FAILED", page_size: PAGE, page_token: pageToken })}`);
    const jobs = reply.jobs || [];
    read += jobs.length;
    out.push(...jobs.filter((job) => job.error && job.error.reason === "dead_letter"));
    pageToken = reply.next_page_token || "";
  } while (pageToken && read < MOST);
  return out;
}

/** Dead-lettered jobs per model, among those that ended within the window. */
export function countByModel(jobs, windowMs, now = Date.now()) {
  const counts = new Map();
  for (const job of jobs) {
    const ended = Date.parse(job.end_time || job.create_time || "");
    if (!(ended >= now - windowMs)) continue;
    counts.set(job.model, (counts.get(job.model) || 0) + 1);
  }
  return counts;
}

/** The dead-letter list: {node, update(jobs)}. */
export function deadLetterList() {
  const empty = h("p", { class: "hint" }, "No dead-lettered jobs.");
  const table = keyedTable("dead-letters", [
    { key: "id", title: "Job" }, { key: "model", title: "Model" }, { key: "version", title: "Version" },
    { key: "time", title: "Failed at" }, { key: "message", title: "Message" },
  ]);
  function update(jobs) {
    empty.hidden = jobs.length > 0;
    table.node.hidden = jobs.length === 0;
    table.update(jobs.map((job) => [job.id, [
      { text: job.id, href: `#/jobs/${encodeURIComponent(job.id)}` },
      job.model || "", job.version || "", when(job.end_time), (job.error && job.error.message) || "",
    ]]));
  }
  update([]);
  return { node: h("div", {}, empty, table.node), update };
}
