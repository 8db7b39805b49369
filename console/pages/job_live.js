// A job's status for people (badges, the queue place and its warning), and a
// live view of it: WatchJob as a streaming fetch, with a slow GetJob poll as a
// backstop in case the stream ends or fails before the job does.

import { ApiError, get, post, stream } from "../api.js";
import { h } from "../dom.js";

const FINAL = new Set(["JOB_STATUS_SUCCEEDED", "JOB_STATUS_FAILED", "JOB_STATUS_CANCELLED"]);
const BACKSTOP_MS = 5000;

/** "JOB_STATUS_QUEUED" -> "QUEUED". */
export function statusName(status) {
  return String(status || "JOB_STATUS_UNSPECIFIED").replace(/^JOB_STATUS_/, "");
}

export function isFinal(status) {
  return FINAL.has(status);
}

export function badge(status) {
  const name = statusName(status);
  return h("span", { class: `status s-${name.toLowerCase()}` }, name);
}

/** "PINNED", "DEFAULT", "ROLLOUT" or "" when not recorded. */
export function routeName(route) {
  const name = String(route || "").replace(/^VERSION_ROUTE_/, "");
  return name === "UNSPECIFIED" ? "" : name;
}

/** The status line: the badge, the queue place while QUEUED, and any no-worker warning. */
export function statusLine(job) {
  const place = job.queue_place;
  const ahead = place && place.jobs_ahead !== undefined ? Number(place.jobs_ahead) : null;
  return h("div", { class: "status-line", role: "status" },
    badge(job.status),
    job.status === "JOB_STATUS_QUEUED" && ahead !== null
      ? h("span", { class: "place" }, ahead === 0 ? "next in its queue" : `${ahead} job${ahead === 1 ? "" : "s"} ahead in its queue`)
      : null,
    place && place.warning ? h("p", { class: "warn" }, place.warning) : null,
    job.error && (job.error.message || job.error.reason)
      ? h("p", { class: "error" }, `${job.error.reason ? `${job.error.reason}: ` : ""}${job.error.message || ""}`)
      : null);
}

/** Cancels a job: resolves to the job after cancellation. */
export async function cancelJob(id) {
  return (await post(`/v1/jobs/${encodeURIComponent(id)}:cancel`, {})).job;
}

/**
 * Calls onJob with each state of the job until it is final; onError with an
 * ApiError when watching fails. Returns stop().
 */
export function watchJob(id, onJob, onError) {
  let stopped = false;
  let done = false;
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const seen = (job) => {
    if (stopped || done || !job) return;
    if (isFinal(job.status)) done = true;
    onJob(job);
    if (done) stop();
  };
  const stopStream = stream(`${path}:watch`, (message) => {
    const reply = message.result || message;
    if (reply.error && reply.error.message) {
      onError(new ApiError(500, String(reply.error.code || ""), reply.error.message));
    } else if (reply.job) seen(reply.job);
  }, (error) => { if (!stopped) onError(error); });
  const backstop = setInterval(async () => {
    try {
      seen((await get(path)).job);
    } catch (error) {
      if (!stopped) onError(error);
    }
  }, BACKSTOP_MS);
  function stop() {
    stopped = true;
    clearInterval(backstop);
    stopStream();
  }
  return stop;
}
