"""What a QUEUED job tells its caller: its place in the queue, and a warning
when no worker serving its model is running. Without the warning a job of a
model nobody serves would wait in silence, possibly forever."""

from __future__ import annotations

from gateway.execution.messages import stamp
from modelgateway.v1 import job_pb2
from scheduler.queue import QueuePlace


def no_worker_warning(model: str, silent_s: float | None, warn_after_s: float) -> str:
    """The warning for a job of `model` whose workers have been silent for silent_s
    (None: never seen), or "" while one was seen within warn_after_s (0: never warn).

    The text names the threshold, not the silence, so that it stays the same from
    one read to the next: WatchJob sends a message when it changes."""
    if warn_after_s <= 0 or (silent_s is not None and silent_s < warn_after_s):
        return ""
    return (
        f"no worker serving model {model!r} has been seen in the last {warn_after_s:g} s: "
        "this job waits in its queue until one starts (operators: "
        f"`modelgw worker --models {model}`; an autoscaler may be starting one)"
    )


def queue_place_message(place: QueuePlace, model: str, warn_after_s: float) -> job_pb2.QueuePlace:
    return job_pb2.QueuePlace(
        jobs_ahead=place.jobs_ahead or 0,
        worker_seen_time=stamp(place.worker_seen),
        warning=no_worker_warning(model, place.worker_silent_s, warn_after_s),
    )


def with_place(job: job_pb2.Job, place: QueuePlace | None, warn_after_s: float) -> job_pb2.Job:
    """`job` (a message of a QUEUED job, not shared) with its queue place set. A
    place read after the job left the queue (it just started) is not shown."""
    if place is not None and place.jobs_ahead is not None:
        job.queue_place.CopyFrom(queue_place_message(place, job.model, warn_after_s))
    return job
