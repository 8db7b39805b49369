"""The worker's run loop against a real Redis: it stops when asked, whatever its
queue reads are doing, and it runs jobs queued by the code before JobSpec."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
import redis.asyncio as aioredis
import uvloop

from backendspec import BackendPolicy
from scheduler import keys
from scheduler.connection import RedisSettings, connect
from scheduler.job import JobSpec, JobStatus
from scheduler.queue import JobQueue
from scheduler.settings import QueueSettings
from workers.settings import WorkerSettings
from workers.worker import Worker

COMPAT_MODEL = "compat.model"
# "spec" fields exactly as the code before JobSpec stored them (json.dumps of a
# dict); the second as a spec without timeout_s, which that worker defaulted.
OLD_SPECS = (
    '{"kind": "python", "config": {"callable": "tests.workers.callables:async_lengths"}, '
    '"timeout_s": 60.0}',
    '{"kind": "python", "config": {"callable": "tests.workers.callables:async_lengths"}}',
)


def test_a_worker_whose_queues_are_gone_stops_when_asked(
    own_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis lost its data (a restart without persistence, a FLUSHALL): each reader's
    read fails with NOGROUP and is tried again a second afterwards. A stop a second after
    the loss is asked just as the readers send their reads again, and the worker
    still stops at once. (Python 3.11's asyncio.wait_for, around each of redis-py's
    sends, dropped such a cancellation; the read ended with NOGROUP, its reader
    read on, and the worker's shutdown waited for it until SIGKILL.) On uvloop, as
    `modelgw worker` runs."""
    # Without the readers' warnings, which pytest's capture would make slower, their
    # retries fall where the stop does.
    caplog.set_level(logging.ERROR, logger="modelgw.worker")
    uvloop.run(_stop_a_second_after_the_loss(own_redis_url, times=3))


async def _stop_a_second_after_the_loss(own_redis_url: str, times: int) -> None:
    settings = WorkerSettings(models=("a", "b", "c", "d"), concurrency=4, drain_grace_s=1)
    for _ in range(times):
        worker = Worker(RedisSettings(own_redis_url), QueueSettings(), settings)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.2)  # the readers block on their queues
        async with aioredis.Redis.from_url(own_redis_url) as client:
            await client.flushall()
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(running, timeout=5)


def test_jobs_queued_by_the_code_before_jobspec_still_run(own_redis_url: str) -> None:
    asyncio.run(_run_old_jobs(own_redis_url))


async def _run_old_jobs(own_redis_url: str) -> None:
    client = connect(RedisSettings(own_redis_url))
    queue = JobQueue(client, QueueSettings())
    settings = WorkerSettings(
        models=(COMPAT_MODEL,),
        concurrency=2,
        model_processes=1,
        policy=BackendPolicy(callables=("tests.workers.callables",)),
    )
    worker = Worker(RedisSettings(own_redis_url), QueueSettings(), settings)
    stop = asyncio.Event()
    try:
        ids = []
        for old in OLD_SPECS:
            records = [{"smiles": "CCO"}]
            submission = await queue.submit(
                model=COMPAT_MODEL, version="1", requested_version="", submitter="ann",
                records=records, records_json=json.dumps(records), spec=JobSpec("python"),
                idempotency_key="",
            )  # fmt: skip
            # The queued job's record as the old code left it.
            shard = keys.shard_of_model(COMPAT_MODEL)
            await client.hset(keys.job(submission.job_id, shard), "spec", old)  # type: ignore[misc]
            ids.append(submission.job_id)
        running = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 30
        while True:
            jobs = await queue.get_many(ids)
            if all(j is not None and j.status.terminal for j in jobs) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        for job in jobs:
            assert job is not None and job.status is JobStatus.SUCCEEDED, job
            assert [r["output"]["length"] for r in job.results()] == [3]
    finally:
        await queue.close()
        await client.aclose()


def test_a_worker_serves_again_after_redis_lost_its_data(own_redis_url: str) -> None:
    """After a FLUSHALL (or a restart without persistence) the queue and its consumer
    group are gone: the worker makes them again and runs what is submitted next."""
    asyncio.run(_serve_after_the_loss(own_redis_url))


async def _serve_after_the_loss(own_redis_url: str) -> None:
    client = connect(RedisSettings(own_redis_url))
    queue = JobQueue(client, QueueSettings())
    settings = WorkerSettings(
        models=(COMPAT_MODEL,),
        concurrency=2,
        model_processes=1,
        policy=BackendPolicy(callables=("tests.workers.callables",)),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(Worker(RedisSettings(own_redis_url), QueueSettings(), settings).run(stop))
    try:
        await asyncio.sleep(0.3)  # the reader blocks on its queue
        await client.flushall()
        await asyncio.sleep(0.5)
        records = [{"smiles": "CCO"}]
        spec = JobSpec("python", {"callable": "tests.workers.callables:async_lengths"}, 30.0)
        submission = await queue.submit(
            model=COMPAT_MODEL, version="1", requested_version="", submitter="ann",
            records=records, records_json=json.dumps(records), spec=spec, idempotency_key="",
        )  # fmt: skip
        deadline = time.monotonic() + 20
        job = await queue.get(submission.job_id)
        while (job is None or not job.status.terminal) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            job = await queue.get(submission.job_id)
        assert job is not None and job.status is JobStatus.SUCCEEDED, job
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        await queue.close()
        await client.aclose()
