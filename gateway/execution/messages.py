"""Conversions from job records to modelgateway.v1 messages."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from modelgateway.v1 import job_pb2
from rollouts.routing import Route
from scheduler.job import JobRecord, JobStatus

STATUS = {
    JobStatus.QUEUED: job_pb2.JOB_STATUS_QUEUED,
    JobStatus.RUNNING: job_pb2.JOB_STATUS_RUNNING,
    JobStatus.SUCCEEDED: job_pb2.JOB_STATUS_SUCCEEDED,
    JobStatus.FAILED: job_pb2.JOB_STATUS_FAILED,
    JobStatus.CANCELLED: job_pb2.JOB_STATUS_CANCELLED,
}
STATUS_OF_PROTO = {value: key for key, value in STATUS.items()}


def stamp(epoch: float | None) -> timestamp_pb2.Timestamp | None:
    """The Timestamp of epoch seconds; None (not set) stays None."""
    if epoch is None:
        return None
    # The constructor, not FromNanoseconds: a pure-Python helper, several times
    # slower, and a job message carries up to five of these.
    seconds = int(epoch)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=int((epoch - seconds) * 1e9))


ROUTES = {
    Route.PINNED.value: job_pb2.VERSION_ROUTE_PINNED,
    Route.DEFAULT.value: job_pb2.VERSION_ROUTE_DEFAULT,
    Route.ROLLOUT.value: job_pb2.VERSION_ROUTE_ROLLOUT,
}
"""A job's stored route (rollouts.routing.Route) as the API's VersionRoute."""


def job_message(record: JobRecord, *, with_results: bool) -> job_pb2.Job:
    """The API's Job for a stored record; results only when asked for."""
    job = job_pb2.Job(
        id=record.id,
        model=record.model,
        version=record.version,
        status=STATUS[record.status],
        submitter=record.submitter,
        record_count=record.record_count,
        attempts=record.attempts,
        idempotency_key=record.idempotency_key,
        create_time=stamp(record.created),
        start_time=stamp(record.started),
        end_time=stamp(record.ended),
        queue_seconds=(record.started - record.created) if record.started else 0.0,
        run_seconds=record.run_seconds or 0.0,
        version_route=ROUTES.get(record.route, 0),
        rollout_id=record.rollout_id,
    )
    job.parent_id = record.parent_id
    for child in record.children:
        job.children.add(
            alias=child["alias"],
            model=child["model"],
            version=child["version"],
            job_id=child.get("job_id", ""),
            status=STATUS.get(JobStatus(child["status"]), 0) if child.get("status") else 0,
            version_route=ROUTES.get(child.get("route", ""), 0),
        )
    for transition in record.transitions:
        job.transitions.add(status=STATUS[transition.status], time=stamp(transition.time))
    if record.error_reason:
        job.error.reason = record.error_reason
        job.error.message = record.error_message
    if with_results:
        for outcome in record.results():
            result = job.results.add()
            if "error" in outcome:
                result.error = str(outcome["error"])
            else:
                result.output.update(outcome.get("output") or {})
    return job
