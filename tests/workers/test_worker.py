"""The worker's run loop against a real Redis: it stops when asked, whatever its
queue reads are doing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import uvloop

from mesh import LocalRedis, free_port
from scheduler.connection import RedisSettings
from scheduler.queue import QueueSettings
from workers.settings import WorkerSettings
from workers.worker import Worker


@pytest.fixture
def redis_url(scratch_dir: Path) -> Iterator[str]:
    """A Redis of the test's own: the test empties it under a running worker."""
    server = LocalRedis(scratch_dir, free_port(), persistence=False)
    try:
        yield server.start()
    finally:
        server.stop()


def test_a_worker_whose_queues_are_gone_stops_when_asked(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis lost its data (a restart without persistence, a FLUSHALL): each reader's
    read fails with NOGROUP and is tried again a second later. A stop a second after
    the loss is asked just as the readers send their reads again, and the worker
    still stops at once. (Python 3.11's asyncio.wait_for, around each of redis-py's
    sends, dropped such a cancellation; the read ended with NOGROUP, its reader
    read on, and the worker's shutdown waited for it until SIGKILL.) On uvloop, as
    `modelgw worker` runs."""
    # Without the readers' warnings, which pytest's capture would make slower, their
    # retries fall where the stop does.
    caplog.set_level(logging.ERROR, logger="modelgw.worker")
    uvloop.run(_stop_a_second_after_the_loss(redis_url, times=3))


async def _stop_a_second_after_the_loss(redis_url: str, times: int) -> None:
    settings = WorkerSettings(models=("a", "b", "c", "d"), concurrency=4, drain_grace_s=1)
    for _ in range(times):
        worker = Worker(RedisSettings(redis_url), QueueSettings(), settings)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.2)  # the readers block on their queues
        async with aioredis.Redis.from_url(redis_url) as client:
            await client.flushall()
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(running, timeout=5)
