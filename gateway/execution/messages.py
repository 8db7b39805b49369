"""Conversions from job records to modelgateway.v1 messages."""

from __future__ import annotations

from collections import OrderedDict

from google.protobuf import timestamp_pb2

from modelgateway.v1 import execution_pb2, job_pb2
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


class SharedWatchMessages:
    """The WatchJob message of each state of a job, built once and sent to every
    stream watching it: a job watched by 100 streams changes once, not 100 times
    (building a message with its results is most of a stream's work on a change).

    A state is the job's revision and attempt count: every change a message shows
    bumps one or the other. Messages are never modified once built, so sharing
    them between streams is safe. The most recent `size` states are kept.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._messages: OrderedDict[
            tuple[str, int, int], tuple[execution_pb2.WatchJobResponse, int]
        ] = OrderedDict()

    def of(self, job: JobRecord) -> execution_pb2.WatchJobResponse:
        """The reply for this record, built once for every stream watching the job."""
        return self._built(job)[0]

    def sized(self, job: JobRecord) -> tuple[job_pb2.Job, int]:
        """The record's Job message, and its size in bytes, built once (WatchJobs
        copies it into the messages it batches, and sizes them by it)."""
        message, size = self._built(job)
        return message.job, size

    def _built(self, job: JobRecord) -> tuple[execution_pb2.WatchJobResponse, int]:
        state = (job.id, job.revision, job.attempts)
        built = self._messages.get(state)
        if built is None:
            message = execution_pb2.WatchJobResponse(job=job_message(job, with_results=True))
            built = self._messages[state] = (message, message.job.ByteSize())
            if len(self._messages) > self._size:
                self._messages.popitem(last=False)
        return built
