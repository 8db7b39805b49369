"""Prometheus metrics of the job protocol.

Workers count the jobs they start and finish (outcomes, run time, queue wait)
as they happen; the scheduler sets the gauges (queue depth, running jobs,
workers busy and idle per model) from Redis every few seconds. The metric
objects are prometheus_client's usual process-wide registrations; each
process exposes them on its own metrics port (gateway.metrics).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

JOBS_STARTED = Counter(
    "modelgw_jobs_started_total", "Jobs a worker of this process started.", ["model"]
)
JOBS_FINISHED = Counter(
    "modelgw_jobs_finished_total",
    "Jobs a worker of this process finished, by final status.",
    ["model", "status"],
)
JOB_RUN_SECONDS = Histogram(
    "modelgw_job_run_seconds",
    "Time from a job's start to its end in this worker.",
    ["model"],
    buckets=_DURATION_BUCKETS,
)
JOB_WAIT_SECONDS = Histogram(
    "modelgw_job_queue_wait_seconds",
    "Time from a job's submission to its start.",
    ["model"],
    buckets=_DURATION_BUCKETS,
)
QUEUE_DEPTH = Gauge("modelgw_queue_depth", "Jobs waiting in the model's queue.", ["model"])
JOBS_RUNNING = Gauge("modelgw_jobs_running", "Jobs of the model running now.", ["model"])
WORKERS = Gauge(
    "modelgw_workers",
    "Live workers reading the model's queue: busy (holding a job) or idle.",
    ["model", "state"],
)


class RunClock:
    """Times the jobs a worker runs, from start to finish, by queue entry."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def started(self, model: str, entry_id: str, created: float) -> None:
        """Notes a job starting: its queue wait."""
        self._started[entry_id] = time.monotonic()
        JOBS_STARTED.labels(model).inc()
        JOB_WAIT_SECONDS.labels(model).observe(max(time.time() - created, 0.0))

    def finished(self, model: str, entry_id: str, status: str) -> None:
        """Notes a job finishing: its outcome and run time."""
        began = self._started.pop(entry_id, None)
        JOBS_FINISHED.labels(model, status).inc()
        if began is not None:
            JOB_RUN_SECONDS.labels(model).observe(time.monotonic() - began)
