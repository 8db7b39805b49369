"""Job status events: one Redis subscription per process, fanned out in process.

Every status change is published on keys.EVENTS_CHANNEL by the Lua script
that made it. A process holds a single subscription, however many WatchJob
streams it serves; on a message it reads the job once and hands the record to
every local watcher of that job. Pub/sub is at most once, so it is only a
wake-up: a watcher reads the job itself right after registering, and each time
the subscription is (re)established every watched job is read again.

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
from collections.abc import AsyncIterator, Awaitable, Callable

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


class Watch:
    """One watcher of a job: the latest news of it, and a way to wait for the next.

    Only the latest news is kept, since each is a whole job record (or None:
    "read the job yourself") and a watcher only needs the newest. A gateway
    holds one of these per WatchJob stream, up to 100,000 and more, so it is kept
    small: no queue, and no task or timer while nothing is awaited.
    """

    __slots__ = ("_news", "_waiter", "job_id")

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._news: object = _NOTHING
        self._waiter: asyncio.Future[None] | None = None

    def push(self, record: JobRecord | None) -> None:
        """The latest record of the job (None: read it again); wakes the stream."""
        self._news = record
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, timeout_s: float) -> JobRecord | None:
        """The next news of the job: its record, or None to re-read it.
        Raises TimeoutError if none comes within timeout_s."""
        if self._news is _NOTHING:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout_s, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        news, self._news = self._news, _NOTHING
        if news is _NOTHING:
            raise TimeoutError
        return news  # type: ignore[return-value]


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
        self._watchers: dict[str, set[Watch]] = defaultdict(set)
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
            watchers = self._watchers.get(job_id)
            if watchers is not None:
                watchers.discard(watch)
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
        for watch in list(self._watchers.get(job_id, ())):
            watch.push(record)
