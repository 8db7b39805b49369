"""Job events against a real Redis: one subscription per process, held only while
someone watches, and every watcher of a job told of each change."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mesh import LocalRedis, free_port
from scheduler import keys
from scheduler.connection import RedisSettings, connect
from scheduler.events import JobEvents
from scheduler.job import JobRecord

JOB = "job-1"


@pytest.fixture
def own_redis(scratch_dir: Path) -> Iterator[str]:
    """A Redis of the test's own: the session's execution server also subscribes to
    the events channel on the session Redis, and lingers there after a watch."""
    server = LocalRedis(scratch_dir, free_port(), persistence=False)
    try:
        yield server.start()
    finally:
        server.stop()


async def subscribers(client: aioredis.Redis) -> int:
    [(_, count)] = await client.pubsub_numsub(keys.EVENTS_CHANNEL)
    return int(count)


async def until(condition: object, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met")


async def test_subscribed_only_while_watched_and_news_reaches_every_watcher(
    own_redis: str,
) -> None:
    clean_redis = own_redis
    client = connect(RedisSettings(clean_redis))
    assert isinstance(client, aioredis.Redis)
    reads: list[str] = []

    async def fetch(job_id: str) -> JobRecord | None:
        reads.append(job_id)
        values = await client.hgetall(f"test:{job_id}")
        return JobRecord.from_hash(values) if values else None

    events = JobEvents(lambda: aioredis.Redis.from_url(clean_redis, decode_responses=True),
                       fetch, linger_s=0.2)  # fmt: skip
    await events.start()
    try:
        await asyncio.sleep(0.2)
        assert await subscribers(client) == 0  # nobody watches: no subscription
        await client.hset(f"test:{JOB}", mapping={
            "id": JOB, "model": "m", "version": "1", "submitter": "u", "status": "RUNNING",
            "created": "1.0", "rev": "2", "record_count": "1"})  # fmt: skip
        async with events.watch(JOB) as first, events.watch(JOB) as second:
            await asyncio.wait_for(events.subscribed.wait(), 5)
            assert await subscribers(client) == 1  # one for both watchers
            # The (re)subscription re-reads every watched job once.
            assert (await first.next(5)).revision == 2  # type: ignore[union-attr]
            assert (await second.next(5)).revision == 2  # type: ignore[union-attr]
            reads.clear()
            await client.hset(f"test:{JOB}", mapping={"status": "SUCCEEDED", "rev": "3"})
            await client.publish(keys.EVENTS_CHANNEL, f"{JOB} SUCCEEDED")
            assert (await first.next(5)).revision == 3  # type: ignore[union-attr]
            assert (await second.next(5)).revision == 3  # type: ignore[union-attr]
            assert reads == [JOB]  # read once for both
        # Nobody watches: the subscription ends at the next event after linger_s.
        await asyncio.sleep(0.3)
        for _ in range(3):
            await client.publish(keys.EVENTS_CHANNEL, "other-job QUEUED")
            await asyncio.sleep(0.05)

        async def unsubscribed() -> bool:
            await client.publish(keys.EVENTS_CHANNEL, "other-job QUEUED")
            return await subscribers(client) == 0

        await until(unsubscribed)
        # A new watcher brings it back.
        async with events.watch(JOB) as again:
            assert (await again.next(5)).revision == 3  # type: ignore[union-attr]
            assert await subscribers(client) == 1
    finally:
        await events.stop()
        await client.aclose()


async def test_one_many_watch_hears_of_each_of_its_jobs_until_dropped(own_redis: str) -> None:
    client = connect(RedisSettings(own_redis))
    assert isinstance(client, aioredis.Redis)

    async def fetch(job_id: str) -> JobRecord | None:
        values = await client.hgetall(f"test:{job_id}")
        return JobRecord.from_hash(values) if values else None

    events = JobEvents(lambda: aioredis.Redis.from_url(own_redis, decode_responses=True), fetch)
    await events.start()
    jobs = ["job-a", "job-b", "job-c"]
    for rev, job in enumerate(jobs, 1):
        await client.hset(f"test:{job}", mapping={
            "id": job, "model": "m", "version": "1", "submitter": "u", "status": "RUNNING",
            "created": "1.0", "rev": str(rev), "record_count": "1"})  # fmt: skip
    try:
        async with events.watch_many(jobs) as watch, events.watch("job-a") as single:
            assert events.watcher_count == 4  # one registration per job, and the single one
            await asyncio.wait_for(events.subscribed.wait(), 5)
            news: dict[str, JobRecord | None] = {}
            while len(news) < 3:  # the subscription re-reads every watched job
                news.update(await watch.next(5))
            assert (await single.next(5)).revision == 1  # type: ignore[union-attr]
            watch.drop("job-b")
            assert events.watcher_count == 3
            for job in jobs:
                await client.publish(keys.EVENTS_CHANNEL, f"{job} SUCCEEDED")
            assert set(await watch.next(5)) <= {"job-a", "job-c"}
        assert events.watcher_count == 0
    finally:
        await events.stop()
        await client.aclose()
