"""Every version of a model has a queue of its own (scheduler.keys.queue(model,
version)): submission, delivery, per-version counters and windows, the route a
job records, and the queue of earlier releases, against a real Redis."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from scheduler import keys, stats
from scheduler.connection import Client, RedisSettings, connect
from scheduler.delivery import Delivery
from scheduler.duties import run_once
from scheduler.job import JobSpec, JobStatus
from scheduler.queue import JobQueue, SubmitOutcome
from scheduler.settings import QueueSettings

MODEL = "v.model"


@pytest.fixture
async def queue(clean_redis: str) -> AsyncIterator[JobQueue]:
    client: Client = connect(RedisSettings(clean_redis))
    queue = JobQueue(client, QueueSettings())
    try:
        yield queue
    finally:
        await queue.close()
        await client.aclose()


async def submit(queue: JobQueue, version: str, n: int = 1, *, route: str = "default") -> str:
    records = [{"n": i} for i in range(n)]
    submission = await queue.submit(
        model=MODEL, version=version, requested_version="", submitter="ann", records=records,
        records_json=json.dumps(records), spec=JobSpec("python"), idempotency_key="",
        route=route, rollout_id="r-1" if route == "rollout" else "",
    )  # fmt: skip
    assert submission.outcome is SubmitOutcome.CREATED
    return submission.job_id


async def deliver(queue: JobQueue, version: str, worker: str = "w") -> list[Delivery]:
    reader = queue.reader(queue.client, MODEL, version, worker, block_ms=50)
    out = []
    for entry in await reader.read(100):
        delivery = await queue.start(MODEL, version, entry.job_id, entry.entry_id, worker)
        assert isinstance(delivery, Delivery)
        out.append(delivery)
    return out


async def test_a_job_waits_in_its_versions_queue_made_by_the_submission(queue: JobQueue) -> None:
    one, two = await submit(queue, "1"), await submit(queue, "2")
    client = queue.client
    assert [f["job"] for _, f in await client.xrange(keys.queue(MODEL, "1"))] == [one]
    assert [f["job"] for _, f in await client.xrange(keys.queue(MODEL, "2"))] == [two]
    assert await client.exists(keys.queue(MODEL)) == 0  # the queue of earlier releases
    assert await queue.versions(MODEL) == {"1", "2"}
    # The first submission made the workers' group: a reader needs nothing else.
    groups = await client.xinfo_groups(keys.queue(MODEL, "2"))
    assert [g["name"] for g in groups] == [keys.GROUP]
    job = await queue.get(two)
    assert job is not None and (job.queue_version, job.route) == ("2", "default")


async def test_a_reader_of_one_version_never_gets_anothers_jobs(queue: JobQueue) -> None:
    ones = [await submit(queue, "1") for _ in range(3)]
    twos = [await submit(queue, "2") for _ in range(2)]
    assert [d.job_id for d in await deliver(queue, "2", "w2")] == twos
    assert [d.job_id for d in await deliver(queue, "1", "w1")] == ones  # FIFO within a version
    assert await deliver(queue, "2", "w2") == []


async def test_version_counters_and_windows_equal_the_jobs_that_ran(queue: JobQueue) -> None:
    began = time.time() - 1
    for _ in range(3):
        await submit(queue, "1", n=2)
    await submit(queue, "2", n=4, route="rollout")
    failing = await submit(queue, "2", n=3, route="rollout")
    for delivery in await deliver(queue, "1"):
        await queue.finish(delivery, JobStatus.SUCCEEDED, results=[{"output": {}}] * 2)
    for delivery in await deliver(queue, "2"):
        if delivery.job_id == failing:
            await queue.finish(delivery, JobStatus.FAILED, reason="model_error", message="x")
        else:  # half its records failed
            results = [{"error": "bad"}, {"output": {}}, {"error": "bad"}, {"output": {}}]
            await queue.finish(delivery, JobStatus.SUCCEEDED, results=results)
    one = await stats.version_window(queue.client, MODEL, "1", since=began)
    two = await stats.version_window(queue.client, MODEL, "2", since=began)
    assert (one.jobs, one.failed_jobs, one.records, one.failed_records) == (3, 0, 6, 0)
    assert (two.jobs, two.failed_jobs, two.records, two.failed_records) == (2, 1, 7, 5)
    assert two.failure_rate == pytest.approx(5 / 7)
    model = await stats.model_stats(queue.client, MODEL, window_s=60, live_ms=15_000)
    assert (model.succeeded, model.failed) == (4, 1)
    by_version = {v.version: v for v in model.versions}
    assert sorted(by_version) == ["1", "2"]  # the queue of earlier releases never held a job
    assert (by_version["2"].figures.succeeded, by_version["2"].figures.failed) == (1, 1)
    assert all(v.drained and v.figures.queued == 0 for v in by_version.values())


async def test_a_version_with_work_is_not_drained(queue: JobQueue) -> None:
    await submit(queue, "1")
    await submit(queue, "1")
    [first, _] = await deliver(queue, "1")
    await queue.finish(first, JobStatus.SUCCEEDED, results=[{"output": {}}])
    model = await stats.model_stats(queue.client, MODEL, window_s=60, live_ms=15_000)
    [version] = model.versions
    assert (version.figures.queued, version.figures.running) == (0, 1)
    assert version.queue_length == 1 and not version.drained


async def test_a_job_of_an_earlier_release_still_runs_from_the_models_queue(
    queue: JobQueue,
) -> None:
    """A job as an earlier release stored it: no queue or route field, an entry in
    the model's single queue. A worker serving all versions reads that queue."""
    client = queue.client
    job_id = keys.new_job_id(MODEL)
    job_key = keys.job(job_id, keys.shard_of_model(MODEL))
    await client.hset(job_key, mapping={
        "id": job_id, "model": MODEL, "version": "1", "submitter": "ann", "status": "QUEUED",
        "created": f"{time.time():.6f}", "record_count": 1, "records": '[{"n": 1}]',
        "spec": JobSpec("python").to_json(), "attempts": 0,
    })  # fmt: skip
    await client.hincrby(keys.counts(MODEL), "QUEUED", 1)
    await client.zadd(keys.waiting(MODEL), {keys.waiting_member(job_id, 1): time.time()})
    await queue.ensure_group(MODEL, "")
    await client.xadd(keys.queue(MODEL), {"job": job_id})
    [delivery] = await deliver(queue, "")
    assert delivery.queue_version == ""
    assert await queue.finish(delivery, JobStatus.SUCCEEDED, results=[{"output": {}}]) == "SUCCEEDED"
    job = await queue.get(job_id)
    assert job is not None and (job.status, job.route) == (JobStatus.SUCCEEDED, "")
    counts = await client.hgetall(keys.counts(MODEL))
    assert (counts["QUEUED"], counts["RUNNING"], counts["SUCCEEDED"]) == ("0", "0", "1")
    assert await client.zcard(keys.waiting(MODEL)) == 0
    model = await stats.model_stats(client, MODEL, window_s=60, live_ms=15_000)
    assert [(v.version, v.figures.succeeded) for v in model.versions] == [("", 1)]


async def test_the_duties_forget_an_expired_waiting_job_of_a_version(clean_redis: str) -> None:
    client: Client = connect(RedisSettings(clean_redis))
    settings = QueueSettings(job_ttl_s=1)
    queue = JobQueue(client, settings)
    try:
        await submit(queue, "3", n=2)
        await asyncio.sleep(1.6)
        assert (await run_once(client, settings))["expired_waiting"] == 1
        assert (await client.hgetall(keys.version_counts(MODEL, "3")))["QUEUED"] == "0"
        assert (await client.hgetall(keys.counts(MODEL)))["QUEUED_RECORDS"] == "0"
    finally:
        await queue.close()
        await client.aclose()


async def test_the_audit_entry_of_a_submission_says_why_its_version(queue: JobQueue) -> None:
    job_id = await submit(queue, "2", route="rollout")
    [(_, entry)] = await queue.client.xrange(keys.audit(MODEL))
    assert (entry["job"], entry["route"], entry["rollout"]) == (job_id, "rollout", "r-1")


async def test_presence_of_a_version_and_of_every_version(queue: JobQueue) -> None:
    job = await queue.get(await submit(queue, "2"))
    assert job is not None
    assert (await queue.place(job)).worker_seen is None
    await queue.announce([(MODEL, "1")], "w1")  # another version's worker
    assert (await queue.place(job)).worker_seen is None
    await queue.announce([(MODEL, keys.ALL_VERSIONS)], "w-all")
    assert (await queue.place(job)).worker_seen is not None
    await queue.leave([(MODEL, keys.ALL_VERSIONS)], "w-all")
    await queue.announce([(MODEL, "2")], "w2")
    assert (await queue.place(job)).worker_seen is not None
    model = await stats.model_stats(queue.client, MODEL, window_s=60, live_ms=15_000)
    assert {v.version: v.figures.live_workers for v in model.versions} == {"2": 1}
