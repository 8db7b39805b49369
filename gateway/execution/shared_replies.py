"""The serialized GetJob reply of a finished job, built once and served many
times (as gateway.execution.messages.SharedWatchMessages is for streams).

A finished job no longer changes (nothing moves a job out of a final status),
so a client polling it, or many clients reading its results, cost a dictionary
lookup and the caller's permission check instead of a Redis read, decoding the
record, building the message and serializing it. Kept for `fresh_s` at most, and
never past the moment the job's record expires in Redis (MODELGW_JOB_TTL after
it finished): an expired job answers NOT_FOUND from every process, as it would
without the replies kept here.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from modelgateway.v1 import execution_pb2
from scheduler.job import JobRecord


@dataclass(frozen=True, slots=True)
class FinishedReply:
    """A finished job's GetJob reply, serialized, and who may see it."""

    model: str
    submitter: str
    data: bytes
    until: float


class FinishedReplies:
    """The serialized GetJob replies of recently read finished jobs, within a byte
    budget: replies larger than `largest` (a job of many records) are not kept."""

    def __init__(
        self,
        fresh_s: float = 600.0,
        job_ttl_s: float = 24 * 3600,
        budget: int = 64 * 1024 * 1024,
        largest: int = 1024 * 1024,
    ) -> None:
        self._fresh_s = fresh_s
        self._job_ttl_s = job_ttl_s
        self._budget = budget
        self._largest = largest
        self._used = 0
        self._replies: OrderedDict[str, FinishedReply] = OrderedDict()

    def get(self, job_id: str) -> FinishedReply | None:
        """The kept reply of a job, if it is still fresh."""
        reply = self._replies.get(job_id)
        if reply is None:
            return None
        if reply.until < time.time():
            self._forget(job_id)
            return None
        return reply

    def keep(self, job: JobRecord, reply: execution_pb2.GetJobResponse) -> bytes:
        """Serializes the reply of a finished job, keeps it if it fits, returns the bytes."""
        data: bytes = reply.SerializeToString()
        if self._fresh_s <= 0 or len(data) > self._largest or not job.status.terminal:
            return data
        now = time.time()  # wall clock, as the record's `ended` and Redis's expiry are
        until = min(now + self._fresh_s, (job.ended or now) + self._job_ttl_s)
        if until <= now:
            return data
        self._forget(job.id)
        self._replies[job.id] = FinishedReply(job.model, job.submitter, data, until)
        self._used += len(data)
        while self._used > self._budget:
            self._forget(next(iter(self._replies)))
        return data

    def _forget(self, job_id: str) -> None:
        reply = self._replies.pop(job_id, None)
        if reply is not None:
            self._used -= len(reply.data)
