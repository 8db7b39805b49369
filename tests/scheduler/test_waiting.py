"""A QUEUED job's place in its queue and the workers' presence (scheduler.queue,
scheduler.stats), against a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from scheduler import keys, stats
from scheduler.connection import Client, RedisSettings, connect
from scheduler.delivery import Delivery
from scheduler.duties import run_once
from scheduler.job import JobSpec, JobStatus
from scheduler.queue import CancelOutcome, JobQueue, SubmitOutcome
from scheduler.settings import QueueSettings

MODEL = "w.model"


@pytest.fixture
async def queue(clean_redis: str) -> AsyncIterator[JobQueue]:
    client: Client = connect(RedisSettings(clean_redis))
    queue = JobQueue(client, QueueSettings())
    await queue.ensure_group(MODEL, "1")
    try:
        yield queue
    finally:
        await queue.close()
        await client.aclose()


async def submit(queue: JobQueue, n: int = 0) -> str:
    records = [{"n": n}]
    submission = await queue.submit(
        model=MODEL, version="1", requested_version="", submitter="alice", records=records,
        records_json=json.dumps(records), spec=JobSpec("python"), idempotency_key="",
    )  # fmt: skip
    assert submission.outcome is SubmitOutcome.CREATED
    return submission.job_id


async def ahead(queue: JobQueue, job_id: str) -> int | None:
    job = await queue.get(job_id)
    assert job is not None
    return (await queue.place(job)).jobs_ahead


async def test_the_submission_script_returns_the_place_and_no_worker(queue: JobQueue) -> None:
    records = [{"n": 1}]
    places = []
    for _ in range(3):
        submission = await queue.submit(
            model=MODEL, version="1", requested_version="", submitter="alice", records=records,
            records_json=json.dumps(records), spec=JobSpec(""), idempotency_key="",
        )  # fmt: skip
        assert submission.place is not None
        places.append(submission.place)
    assert [p.jobs_ahead for p in places] == [0, 1, 2]
    assert all(p.worker_seen is None and p.worker_silent_s is None for p in places)
    assert abs(places[0].now - time.time()) < 5  # Redis time


async def test_jobs_ahead_count_only_queued_jobs_before_this_one(queue: JobQueue) -> None:
    first, second, third = [await submit(queue, i) for i in range(3)]
    assert [await ahead(queue, j) for j in (first, second, third)] == [0, 1, 2]
    # A cancelled job and a started one no longer wait: those behind move up.
    job = await queue.get(second)
    assert job is not None and await queue.cancel(job, "test") is CancelOutcome.CANCELLED
    assert [await ahead(queue, j) for j in (first, third)] == [0, 1]
    [entry] = await queue.reader(queue.client, MODEL, "1", "w1", block_ms=100).read(1)
    delivery = await queue.start(MODEL, "1", entry.job_id, entry.entry_id, "w1")
    assert isinstance(delivery, Delivery) and delivery.job_id == first
    assert await ahead(queue, first) is None  # running: it has no place any more
    assert await ahead(queue, third) == 0
    await queue.finish(delivery, JobStatus.SUCCEEDED, results=[{"output": {}}])
    assert await queue.client.zrange(keys.waiting(MODEL, "1"), 0, -1) == [keys.waiting_member(third, 1)]


async def test_an_idle_worker_is_live_before_any_job_and_not_after_it_leaves(
    queue: JobQueue,
) -> None:
    model = "never.had.a.job"
    assert (await stats.model_stats(queue.client, model, window_s=60, live_ms=15_000)).live_workers == 0
    await queue.announce([(model, keys.ALL_VERSIONS), (MODEL, keys.ALL_VERSIONS)], "w1")
    now = await stats.model_stats(queue.client, model, window_s=60, live_ms=15_000)
    assert (now.live_workers, now.busy_workers, now.queued) == (1, 0, 0)
    assert model in await stats.known_models(queue.client)  # listed without a job
    job = await queue.get(await submit(queue))
    assert job is not None
    place = await queue.place(job)
    assert place.worker_seen is not None and place.worker_silent_s is not None
    assert place.worker_silent_s < 5
    await queue.leave([(model, keys.ALL_VERSIONS)], "w1")
    assert (await stats.model_stats(queue.client, model, window_s=60, live_ms=15_000)).live_workers == 0


async def test_a_silent_worker_drops_out_after_the_live_window(queue: JobQueue) -> None:
    await queue.announce([(MODEL, keys.ALL_VERSIONS)], "w1")
    # As if w1 had last announced itself 20 s ago and died.
    await queue.client.zadd(keys.workers(MODEL), {"w1": time.time() - 20})
    await queue.announce([(MODEL, keys.ALL_VERSIONS)], "w2")
    live = await stats.model_stats(queue.client, MODEL, window_s=60, live_ms=15_000)
    assert live.live_workers == 1
    job = await queue.get(await submit(queue))
    assert job is not None
    place = await queue.place(job)
    assert place.worker_silent_s is not None and place.worker_silent_s < 5  # w2, the newest


async def test_a_worker_holding_a_job_counts_busy(queue: JobQueue) -> None:
    job_id = await submit(queue)
    await queue.announce([(MODEL, keys.ALL_VERSIONS)], "w1")
    assert len(await queue.reader(queue.client, MODEL, "1", "w1", block_ms=100).read(1)) == 1
    busy = await stats.model_stats(queue.client, MODEL, window_s=60, live_ms=15_000)
    assert (busy.live_workers, busy.busy_workers) == (1, 1)
    assert await ahead(queue, job_id) == 0  # delivered, not yet started: still QUEUED


async def test_waiting_entries_of_expired_jobs_are_trimmed(queue: JobQueue) -> None:
    job_id = await submit(queue)
    expired = keys.waiting_member(keys.new_job_id(MODEL), 1)  # a job whose record is gone
    await queue.client.zadd(keys.waiting(MODEL, "1"), {expired: time.time() - 7200})
    await run_once(queue.client, QueueSettings(job_ttl_s=3600))
    assert await queue.client.zrange(keys.waiting(MODEL, "1"), 0, -1) == [keys.waiting_member(job_id, 1)]
