"""WatchJobs: many jobs followed on one stream.

A client waiting for a batch of jobs would otherwise hold a WatchJob stream per
job, and grpc.aio spends about 23 KB on each: 100,000 jobs took 3.2 GB before
any of them changed. One WatchJobs stream follows up to MAX_JOBS jobs. Per job
it keeps the last revision shown (one dict entry, removed once the job is
final) and one registration with JobEvents (scheduler.events.ManyWatch): no
task, timer or Redis connection per job.

The order of work is WatchJob's: register every job with JobEvents, then read
them (a change between the two arrives as news), READ_CHUNK at a time, and send
each one's state; then at each news re-read only the jobs whose news came
without a record, and send those whose revision moved past the one shown. A
job that is final, missing or not the caller's leaves the stream (and
JobEvents) at once; the stream ends when none is left.

News that arrives together is sent together: a message carries every job that
changed since the previous message, up to MESSAGE_BYTES, so a burst of changes
costs a few messages, not one per job. Each job state's message is built once
(SharedWatchMessages, shared with WatchJob) and copied into the batches.

QUEUED jobs are shown without their queue place: WatchJob reads a job's place
at its start and on every heartbeat, a Redis call per job that a stream of
10,000 jobs cannot pay each time. GetJob or WatchJob gives one job's place.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import grpc
from google.rpc import status_pb2

from authz.principal import Principal
from gateway.errors import InvalidArgument, shown
from gateway.execution.messages import SharedWatchMessages
from gateway.interceptor import grpc_status_for
from modelgateway.v1 import execution_pb2, job_pb2
from scheduler import keys
from scheduler.events import JobEvents, ManyWatch
from scheduler.job import JobRecord

MAX_JOBS = 10_000
"""Jobs one WatchJobs call may name (after duplicates collapse)."""
READ_CHUNK = 500
"""Job records read per round trip: bounds what a stream holds in memory at once."""
MESSAGE_BYTES = 1 << 20
"""A message's jobs, in bytes, beyond which the next job goes in another message
(a job larger than this goes alone; the server's message limit bounds it)."""

_NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]
_HEARTBEAT = execution_pb2.WatchJobsResponse(heartbeat=True)

Read = Callable[[Sequence[str]], Awaitable[list[JobRecord | None]]]
Sees = Callable[[Principal, str, str], bool]
"""Whether a principal sees the jobs of a model (str) its submitter (str) made."""
Refresh = Callable[[], Awaitable[bool]]


def not_found(job_id: str) -> str:
    """What GetJob and WatchJob answer for a job that is missing or not the caller's."""
    return f"job {job_id} not found (it may have expired, or is not yours)"


@dataclass(frozen=True)
class _Update:
    """One job's news for the next message: its shared Job message, or an error."""

    job_id: str
    job: job_pb2.Job | None
    error: str
    size: int


def _missing(job_id: str, message: str) -> _Update:
    return _Update(job_id, None, message, len(message) + 64)


@dataclass(frozen=True)
class JobsWatch:
    """The WatchJobs handler. `sees` and `refresh_policy` are ExecutionService's
    rule for who sees a job (submitter, model owner, superuser) and the policy's
    freshness check, asked once per chunk of jobs rather than once per job."""

    read: Read
    events: JobEvents
    sees: Sees
    refresh_policy: Refresh
    messages: SharedWatchMessages
    heartbeat_s: float

    async def stream(
        self, given: Sequence[str], principal: Principal
    ) -> AsyncIterator[execution_pb2.WatchJobsResponse]:
        """The current state of every job named, then each change, until none is left."""
        ids = job_ids(given)
        async with self.events.watch_many(ids) as watch:
            sent = False
            try:
                async for message in self._follow(ids, principal, watch):
                    sent = True
                    yield message
            except Exception as exc:
                if not sent:
                    raise  # a plain status: nothing was sent yet
                # As WatchJob: a final message, which REST clients over HTTP/1.1
                # can see (they cannot see trailers).
                code, text = grpc_status_for(exc)
                yield execution_pb2.WatchJobsResponse(
                    error=status_pb2.Status(code=code.value[0], message=text)
                )

    async def _follow(
        self, ids: list[str], principal: Principal, watch: ManyWatch
    ) -> AsyncIterator[execution_pb2.WatchJobsResponse]:
        shown_revision: dict[str, int] = {}  # the jobs still followed
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ids[start : start + READ_CHUNK]
            records = await self.read(chunk)
            visible = await self._visible(principal, records)
            updates = []
            for job_id, record, seen in zip(chunk, records, visible, strict=True):
                if record is None or not seen:
                    updates.append(_missing(job_id, not_found(job_id)))
                    watch.drop(job_id)
                else:
                    updates.append(self._shown(record, shown_revision, watch))
            for message in batched(updates):
                yield message
        quiet_since = time.monotonic()
        while shown_revision:
            try:
                news = await watch.next(self.heartbeat_s - (time.monotonic() - quiet_since))
            except TimeoutError:
                news = {}
            for message in batched(await self._changes(news, shown_revision, watch)):
                quiet_since = time.monotonic()
                yield message
            if time.monotonic() - quiet_since >= self.heartbeat_s:
                # News of nothing new does not count: proxies need a message.
                quiet_since = time.monotonic()
                yield _HEARTBEAT

    async def _visible(self, principal: Principal, records: list[JobRecord | None]) -> list[bool]:
        """Whether the caller may see each job; the policy is re-checked once when
        any is refused (a grant may be on its way), as for GetJob."""
        seen = [r is not None and self.sees(principal, r.model, r.submitter) for r in records]
        refused = any(r is not None and not s for r, s in zip(records, seen, strict=True))
        if refused and await self.refresh_policy():
            seen = [r is not None and self.sees(principal, r.model, r.submitter) for r in records]
        return seen

    async def _changes(
        self, news: dict[str, JobRecord | None], shown_revision: dict[str, int], watch: ManyWatch
    ) -> list[_Update]:
        """The updates news brings: jobs whose revision moved past the one shown."""
        unread = [job_id for job_id, r in news.items() if r is None and job_id in shown_revision]
        fresh: dict[str, JobRecord | None] = {}
        for start in range(0, len(unread), READ_CHUNK):
            chunk = unread[start : start + READ_CHUNK]
            fresh.update(zip(chunk, await self.read(chunk), strict=True))
        updates = []
        for job_id, given in news.items():
            seen = shown_revision.get(job_id)
            if seen is None:
                continue  # left the stream already
            record = given if given is not None else fresh[job_id]
            if record is None:
                updates.append(_missing(job_id, f"job {job_id} expired while being watched"))
                del shown_revision[job_id]
                watch.drop(job_id)
            elif record.revision > seen:  # news may arrive out of order
                updates.append(self._shown(record, shown_revision, watch))
        return updates

    def _shown(
        self, record: JobRecord, shown_revision: dict[str, int], watch: ManyWatch
    ) -> _Update:
        """The update showing this record; a final job leaves the stream."""
        if record.status.terminal:
            shown_revision.pop(record.id, None)
            watch.drop(record.id)
        else:
            shown_revision[record.id] = record.revision
        job, size = self.messages.sized(record)
        return _Update(record.id, job, "", size)


def batched(updates: list[_Update]) -> Iterator[execution_pb2.WatchJobsResponse]:
    """The updates in as few messages as MESSAGE_BYTES allows, in order."""
    message, size = execution_pb2.WatchJobsResponse(), 0
    for update in updates:
        if size and size + update.size > MESSAGE_BYTES:
            yield message
            message, size = execution_pb2.WatchJobsResponse(), 0
        entry = message.jobs.add(id=update.job_id)
        if update.job is not None:
            entry.job.CopyFrom(update.job)
        else:
            entry.error.code, entry.error.message = _NOT_FOUND, update.error
        size += update.size
    if size:
        yield message


def job_ids(given: Sequence[str]) -> list[str]:
    """The distinct job ids a caller gave, normalized, in order; INVALID_ARGUMENT
    naming the first bad one, or when there are none or more than MAX_JOBS."""
    if not given:
        raise InvalidArgument(
            "ids is required: the UUIDs of the jobs to watch, as returned by SubmitJob",
            field="ids",
        )
    ids: dict[str, None] = {}
    for index, value in enumerate(given):
        job_id = value.strip().lower()  # UUIDs compare case-insensitively
        if job_id in ids:
            continue
        if not job_id:
            raise InvalidArgument(f"ids[{index}] is empty: give a job UUID", field=f"ids[{index}]")
        if keys.shard_of_job(job_id) is None:
            raise InvalidArgument(
                f"ids[{index}] {shown(job_id, 64)} is not a job UUID issued by this platform",
                field=f"ids[{index}]",
            )
        ids[job_id] = None
        if len(ids) > MAX_JOBS:
            raise InvalidArgument(
                f"ids names more than {MAX_JOBS:,} jobs: watch at most {MAX_JOBS:,} per "
                "WatchJobs call, and split more over several calls",
                field="ids",
            )
    return list(ids)
