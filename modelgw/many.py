"""Many jobs followed on one WatchJobs stream: `Client.watch_many` and `wait_all`
(and their AsyncClient twins).

`_Following` holds what both clients know between messages: each job's handle,
its last status and whether it is final. The blocking and asyncio drivers only
open the stream, feed it each message and decide, when it breaks, whether to
reconnect (naming the jobs not yet final), to poll GetJob instead (a gateway
that does not serve WatchJobs), or to raise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Generic, Protocol, TypeVar

import grpc

from modelgateway.v1 import execution_pb2
from modelgw import _convert
from modelgw._channel import RETRYABLE, AsyncCaller, Caller, backoff_s
from modelgw.errors import GatewayError, InvalidInput, Unavailable, from_rpc_error, from_status
from modelgw.models import JobInfo

MAX_JOBS = 10_000
"""Jobs one WatchJobs stream may follow (the server's bound)."""
POLL_S = 0.5
"""Seconds between rounds of GetJob calls when WatchJobs is not served."""


class _Handle(Protocol):
    @property
    def id(self) -> str: ...


H = TypeVar("H", bound=_Handle)


def job_id_of(job: _Handle | str) -> str:
    """The id of a handle or of an id as given, as the server spells it."""
    return (job if isinstance(job, str) else job.id).strip().lower()


def _code(value: int) -> grpc.StatusCode:
    return next((c for c in grpc.StatusCode if c.value[0] == value), grpc.StatusCode.UNKNOWN)


class _Following(Generic[H]):
    """The jobs of one watch_many: handles by id, the last status shown of each,
    and those not yet final (the ids a reconnection names)."""

    def __init__(self, jobs: Iterable[H | str], handle_of: Callable[[JobInfo], H]) -> None:
        self._handle_of = handle_of
        self._handles: dict[str, H | None] = {}
        for job in jobs:
            self._handles.setdefault(job_id_of(job), None if isinstance(job, str) else job)
        if not self._handles:
            raise InvalidInput("give at least one job to watch")
        self._last: dict[str, str] = {}
        self.pending = dict.fromkeys(self._handles)

    @property
    def total(self) -> int:
        return len(self._handles)

    def request(self) -> execution_pb2.WatchJobsRequest:
        return execution_pb2.WatchJobsRequest(ids=list(self.pending))

    def feed(self, message: execution_pb2.WatchJobsResponse) -> list[tuple[H, JobInfo]]:
        """The status changes a stream message brings; raises the typed error of a
        job the server will not show (NotFound) or of a stream that failed."""
        if message.HasField("error"):
            raise from_status(_code(message.error.code), message.error.message or "stream failed")
        changes = []
        for entry in message.jobs:
            if entry.HasField("error"):
                raise from_status(_code(entry.error.code), entry.error.message)
            changes += self.saw(entry.id, _convert.job_info(entry.job))
        return changes

    def saw(self, job_id: str, info: JobInfo) -> list[tuple[H, JobInfo]]:
        """The change this state of a job is (none if its status is the one shown)."""
        if job_id not in self.pending or self._last.get(job_id) == info.status:
            return []
        self._last[job_id] = info.status
        handle = self._handles[job_id]
        if handle is None:
            handle = self._handles[job_id] = self._handle_of(info)
        if info.done:
            del self.pending[job_id]
        return [(handle, info)]

    def remaining(self, deadline: float | None) -> float | None:
        """Seconds left before deadline; TimeoutError once none are."""
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(self.pending)} of {self.total} jobs did not finish in time")
        return left

    def broken(self, exc: grpc.RpcError | None, deadline: float | None) -> GatewayError:
        """What ended a stream before every job was final, as a typed error."""
        if exc is None:
            return Unavailable("the stream ended before every job finished")
        error = from_rpc_error(exc)
        if error.code == grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None:
            self.remaining(deadline)  # the caller's own deadline: TimeoutError
        return error


def _polls_instead(error: GatewayError, attempt: int, retries: int) -> bool:
    """After a broken stream: True to poll (WatchJobs is not served), False to
    reconnect; raises the error when retrying cannot change it."""
    if error.code == grpc.StatusCode.UNIMPLEMENTED:
        return True
    if error.code not in RETRYABLE or attempt >= retries:
        raise error
    return False


def check_count(following: _Following[Any]) -> None:
    if following.total > MAX_JOBS:
        raise InvalidInput(
            f"watch_many follows at most {MAX_JOBS:,} jobs on one stream, not "
            f"{following.total:,}: split them (wait_all takes any number)"
        )


def watch(
    caller: Caller,
    jobs: Iterable[H | str],
    handle_of: Callable[[JobInfo], H],
    deadline: float | None,
) -> Iterator[tuple[H, JobInfo]]:
    """The blocking driver of watch_many (see Client.watch_many)."""
    following = _Following(jobs, handle_of)
    check_count(following)
    attempt = 0
    while following.pending:
        try:
            call = caller.execution.WatchJobs(
                following.request(),
                metadata=caller.settings.metadata,
                timeout=following.remaining(deadline),
            )
            try:
                for message in call:
                    attempt = 0
                    yield from following.feed(message)
            except grpc.RpcError as exc:
                raise following.broken(exc, deadline) from None
            finally:
                call.cancel()
            if following.pending:
                raise following.broken(None, deadline)
        except GatewayError as error:
            if _polls_instead(error, attempt, caller.settings.retries):
                yield from _poll(caller, following, deadline)
                return
            following.remaining(deadline)
            time.sleep(backoff_s(attempt))
            attempt += 1


def _poll(caller: Caller, following: _Following[H], deadline: float | None) -> Iterator[Any]:
    while True:
        for job_id in list(following.pending):
            request = execution_pb2.GetJobRequest(id=job_id)
            reply = caller.call(caller.execution.GetJob, request)
            yield from following.saw(job_id, _convert.job_info(reply.job))
        if not following.pending:
            return
        following.remaining(deadline)
        time.sleep(POLL_S)


async def watch_async(
    caller: AsyncCaller,
    jobs: Iterable[H | str],
    handle_of: Callable[[JobInfo], H],
    deadline: float | None,
) -> AsyncIterator[tuple[H, JobInfo]]:
    """The asyncio driver of watch_many (see AsyncClient.watch_many)."""
    following = _Following(jobs, handle_of)
    check_count(following)
    attempt = 0
    while following.pending:
        try:
            call: Any = caller.execution.WatchJobs(
                following.request(),
                metadata=caller.settings.metadata,
                timeout=following.remaining(deadline),
            )
            try:
                async for message in call:
                    attempt = 0
                    for change in following.feed(message):
                        yield change
            except grpc.RpcError as exc:
                raise following.broken(exc, deadline) from None
            finally:
                call.cancel()
            if following.pending:
                raise following.broken(None, deadline)
        except GatewayError as error:
            if _polls_instead(error, attempt, caller.settings.retries):
                async for change in _poll_async(caller, following, deadline):
                    yield change
                return
            following.remaining(deadline)
            await asyncio.sleep(backoff_s(attempt))
            attempt += 1


async def _poll_async(
    caller: AsyncCaller, following: _Following[H], deadline: float | None
) -> AsyncIterator[Any]:
    while True:
        for job_id in list(following.pending):
            request = execution_pb2.GetJobRequest(id=job_id)
            reply = await caller.call(caller.execution.GetJob, request)
            for change in following.saw(job_id, _convert.job_info(reply.job)):
                yield change
        if not following.pending:
            return
        following.remaining(deadline)
        await asyncio.sleep(POLL_S)


def deadline_of(timeout_s: float | None) -> float | None:
    """The monotonic time a wait must end by (None: never)."""
    if timeout_s is not None and not timeout_s >= 0:
        raise InvalidInput(f"timeout_s must be 0 or more seconds, not {timeout_s}")
    return None if timeout_s is None else time.monotonic() + timeout_s


def _chunks(jobs: Iterable[H | str]) -> tuple[list[str], list[list[H | str]]]:
    """The distinct ids of a wait_all in order, and its jobs MAX_JOBS at a time."""
    distinct: dict[str, H | str] = {}
    for job in jobs:
        distinct.setdefault(job_id_of(job), job)
    values = list(distinct.values())
    return list(distinct), [values[i : i + MAX_JOBS] for i in range(0, len(values), MAX_JOBS)]


def wait_all(
    caller: Caller,
    jobs: Iterable[H | str],
    handle_of: Callable[[JobInfo], H],
    timeout_s: float | None,
) -> list[JobInfo]:
    """The blocking driver of wait_all (see Client.wait_all): a stream per
    MAX_JOBS jobs, one after the other, within one deadline."""
    deadline = deadline_of(timeout_s)
    given = list(jobs)
    ids, chunks = _chunks(given)
    finals: dict[str, JobInfo] = {}
    for chunk in chunks:
        finals.update((i.id, i) for _, i in watch(caller, chunk, handle_of, deadline) if i.done)
    return [finals[job_id_of(job)] for job in given] if ids else []


async def wait_all_async(
    caller: AsyncCaller,
    jobs: Iterable[H | str],
    handle_of: Callable[[JobInfo], H],
    timeout_s: float | None,
) -> list[JobInfo]:
    """The asyncio driver of wait_all (see AsyncClient.wait_all)."""
    deadline = deadline_of(timeout_s)
    given = list(jobs)
    ids, chunks = _chunks(given)
    finals: dict[str, JobInfo] = {}
    for chunk in chunks:
        async for _, info in watch_async(caller, chunk, handle_of, deadline):
            if info.done:
                finals[info.id] = info
    return [finals[job_id_of(job)] for job in given] if ids else []
