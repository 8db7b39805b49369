"""What a QUEUED job tells its caller: its place in the queue, and a warning
when no worker serving its model is running. Without the warning a job of a
model nobody serves would wait in silence, possibly forever."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from gateway.execution.messages import stamp
from modelgateway.v1 import job_pb2
from scheduler.job import JobRecord
from scheduler.queue import QueuePlace

PLACE_FRESH_S = 1.0
"""How long a job's place, once read, answers its GetJob and WatchJob calls."""


def no_worker_warning(
    model: str, silent_s: float | None, warn_after_s: float, version: str = ""
) -> str:
    """The warning for a job of `model` (at `version`, whose queue it waits in)
    whose workers have been silent for silent_s (None: never seen), or "" while
    one was seen within warn_after_s (0: never warn).

    The text names the threshold, not the silence, so that it stays the same from
    one read to the next: WatchJob sends a message when it changes."""
    if warn_after_s <= 0 or (silent_s is not None and silent_s < warn_after_s):
        return ""
    if not version:
        return (
            f"no worker serving model {model!r} has been seen in the last {warn_after_s:g} s: "
            "this job waits in its queue until one starts (operators: "
            f"`modelgw worker --models {model}`; an autoscaler may be starting one)"
        )
    return (
        f"no worker serving model {model!r} at version {version} has been seen in the last "
        f"{warn_after_s:g} s: this job waits in that version's queue until one starts "
        f"(operators: `modelgw worker --models {model}` for every version, or "
        f"`--models {model}@{version}`; an autoscaler may be starting one)"
    )


def queue_place_message(
    place: QueuePlace, model: str, warn_after_s: float, version: str = ""
) -> job_pb2.QueuePlace:
    """A QUEUED job's place as the API shows it, with the no-worker warning."""
    return job_pb2.QueuePlace(
        jobs_ahead=place.jobs_ahead or 0,
        worker_seen_time=stamp(place.worker_seen),
        warning=no_worker_warning(model, place.worker_silent_s, warn_after_s, version),
    )


def with_place(job: job_pb2.Job, place: QueuePlace | None, warn_after_s: float) -> job_pb2.Job:
    """`job` (a message of a QUEUED job, not shared) with its queue place set. A
    place read after the job left the queue (it just started) is not shown."""
    if place is not None and place.jobs_ahead is not None:
        job.queue_place.CopyFrom(
            queue_place_message(place, job.model, warn_after_s, job.version)
        )
    return job


class RecentPlaces:
    """Each QUEUED job's place as last read, for PLACE_FRESH_S: a client polling
    its job every 20 ms would otherwise add a Redis call to each poll, for a
    figure that moves as other jobs start. The most recent `size` are kept."""

    def __init__(
        self,
        read: Callable[[JobRecord], Awaitable[QueuePlace]],
        fresh_s: float = PLACE_FRESH_S,
        size: int = 65_536,
    ) -> None:
        self._read = read
        self._fresh_s = fresh_s
        self._size = size
        self._places: OrderedDict[str, tuple[float, QueuePlace]] = OrderedDict()

    async def of(self, job: JobRecord) -> QueuePlace:
        """The job's place, read at most once per freshness window."""
        now = time.monotonic()
        known = self._places.get(job.id)
        if known is not None and now - known[0] < self._fresh_s:
            return known[1]
        place = await self._read(job)
        self._places[job.id] = (now, place)
        self._places.move_to_end(job.id)
        if len(self._places) > self._size:
            self._places.popitem(last=False)
        return place
