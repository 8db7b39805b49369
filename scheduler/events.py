"""Job status events: one Redis subscription per process, fanned out in process.

Every status change is published on keys.EVENTS_CHANNEL by the Lua script
that made it. A process holds a single subscription, however many WatchJob
streams it serves; on a message it reads the job once and hands the record to
every local watcher of that job. Pub/sub is at most once, so it is only a
wake-up: a watcher reads the job itself right after registering, and each time
the subscription is (re)established every watched job is read again.

A watcher is a `Watch` (one job, a WatchJob stream) or a `ManyWatch` (many
jobs, a WatchJobs stream): one object registered under each of its job ids,
so that a stream of 10,000 jobs costs one entry in each job's set of
watchers, not a context, an object and a task per job.

The subscription is held only while someone watches (and LINGER_S after the
last one leaves): every process subscribed would otherwise parse every event
of the whole platform, thousands a second, to find none of interest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from scheduler import keys
from scheduler.connection import reraise_cancellation
from scheduler.job import JobRecord

log = logging.getLogger("modelgw.events")

Fetch = Callable[[str], Awaitable[JobRecord | None]]

# Seconds the subscription outlives the last watcher, so that watchers coming
# and going do not subscribe and unsubscribe each time.
LINGER_S = 10.0


_NOTHING = object()


class _Sleeper:
    """Something a stream awaits with a timeout: no task or timer while nothing is awaited."""

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _sleep(self, timeout_s: float) -> None:
        """Returns on the next _wake, or after timeout_s."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout_s, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


class Watch(_Sleeper):
    """One watcher of a job: the latest news of it, and a way to wait for the next.

    Only the latest news is kept, since each is a whole job record (or None:
    "read the job yourself") and a watcher only needs the newest. A gateway
    holds one of these per WatchJob stream, up to 100,000 and more, so it is kept
    small: no queue, and no task or timer while nothing is awaited.
    """

    __slots__ = ("_news", "job_id")

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self._news: object = _NOTHING

    def push(self, record: JobRecord | None) -> None:
        """The latest record of the job (None: read it again); wakes the stream."""
        self._news = record
        self._wake()

    def notify(self, job_id: str, record: JobRecord | None) -> None:
        """What JobEvents calls on news of job_id: this watch's only job."""
        self.push(record)

    async def next(self, timeout_s: float) -> JobRecord | None:
        """The next news of the job: its record, or None to re-read it.
        Raises TimeoutError if none comes within timeout_s."""
        if self._news is _NOTHING:
            await self._sleep(timeout_s)
        news, self._news = self._news, _NOTHING
        if news is _NOTHING:
            raise TimeoutError
        return news  # type: ignore[return-value]


class ManyWatch(_Sleeper):
    """One watcher of many jobs (a WatchJobs stream): the latest news of each job
    that changed since the stream last looked, and a way to wait for more.

    Registered under each of its jobs; `drop` unregisters one job (it is final,
    or not the caller's), so that news of it is no longer delivered or kept.
    """

    __slots__ = ("_drop", "_news")

    def __init__(self, drop: Callable[[str, ManyWatch], None]) -> None:
        super().__init__()
        self._news: dict[str, JobRecord | None] = {}
        self._drop = drop

    def notify(self, job_id: str, record: JobRecord | None) -> None:
        """The latest record of job_id (None: read it again); wakes the stream."""
        self._news[job_id] = record
        self._wake()

    def drop(self, job_id: str) -> None:
        """No more news of this job."""
        self._news.pop(job_id, None)
        self._drop(job_id, self)

    async def next(self, timeout_s: float) -> dict[str, JobRecord | None]:
        """The news since the last call, by job id (a record, or None to re-read
        the job), at least one. Raises TimeoutError if none comes within timeout_s."""
        if not self._news:
            await self._sleep(timeout_s)
        news, self._news = self._news, {}
        if not news:
            raise TimeoutError
        return news


class _Watcher(Protocol):
    def notify(self, job_id: str, record: JobRecord | None) -> None: ...


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class JobEvents:
    """One subscription to `mg:events` per process, fanned out to every watcher of a job."""

    def __init__(
        self, connect: Callable[[], aioredis.Redis], fetch: Fetch, *, linger_s: float = LINGER_S
    ) -> None:
        self._connect = connect
        self._fetch = fetch
        self._linger_s = linger_s
        self._watchers: dict[str, set[_Watcher]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()  # someone watches: hold the subscription
        self.subscribed = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def watcher_count(self) -> int:
        """Streams watching, over all jobs."""
        return sum(len(w) for w in self._watchers.values())

    async def start(self) -> None:
        """Starts listening in the background, subscribing again whenever it is lost."""
        self._task = asyncio.create_task(self._listen_forever(), name="job-events")

    async def stop(self) -> None:
        """Stops listening, and cancels the reads of jobs under way."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._inflight):
            task.cancel()

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[Watch]:
        """A Watch of one job while the context is open: its record at each change."""
        watch = Watch(job_id)
        self._watchers[job_id].add(watch)
        self._wanted.set()
        try:
            yield watch
        finally:
            self._unregister(job_id, watch)

    @contextlib.asynccontextmanager
    async def watch_many(self, job_ids: Collection[str]) -> AsyncIterator[ManyWatch]:
        """One ManyWatch of all these jobs while the context is open: the records
        of those that changed, at each change. Registered before the context
        opens, so a change from then on is news (read the jobs inside it)."""
        watch = ManyWatch(self._unregister)
        for job_id in job_ids:
            self._watchers[job_id].add(watch)
        self._wanted.set()
        try:
            yield watch
        finally:
            for job_id in job_ids:
                self._unregister(job_id, watch)

    def _unregister(self, job_id: str, watcher: _Watcher) -> None:
        watchers = self._watchers.get(job_id)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[job_id]

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            await self._wanted.wait()
            client = self._connect()
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(keys.EVENTS_CHANNEL)
                    self.subscribed.set()
                    # Watchers read their job before this subscription existed.
                    self._resync()
                    delay = 0.1
                    await self._pump(pubsub)
                    if not self._watchers:
                        self._wanted.clear()
                    continue
            except (RedisError, OSError) as exc:
                reraise_cancellation()
                log.warning(
                    "event subscription lost; reconnecting", extra={"fields": {"error": str(exc)}}
                )
            finally:
                self.subscribed.clear()
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _pump(self, pubsub: aioredis.client.PubSub) -> None:
        """Hands events to watchers; returns once nobody has watched for linger_s."""
        idle_since: float | None = None
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            if self._watchers:
                idle_since = None
                job_id, _, _status = str(message["data"]).partition(" ")
                if job_id in self._watchers:
                    self._refresh(job_id)
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self._linger_s:
                return

    def _resync(self) -> None:
        # Messages published while we were away are lost: read every watched job.
        for job_id in list(self._watchers):
            self._refresh(job_id)

    def _refresh(self, job_id: str) -> None:
        task = asyncio.create_task(self._deliver(job_id))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _deliver(self, job_id: str) -> None:
        try:
            record = await self._fetch(job_id)
        except (RedisError, OSError):
            record = None  # watchers re-read on their own after a None
        for watcher in list(self._watchers.get(job_id, ())):
            watcher.notify(job_id, record)
