"""The records waiting in a model's queue (the counts' QUEUED_RECORDS, which
max_queued_records limits) stay exact through every way a job leaves the
queue: started, cancelled, dead-lettered, expired; against a real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from scheduler import keys
from scheduler.admission import NO_LIMITS, AdmissionLimits, Limit, ModelAdmission, UserRates
from scheduler.connection import Client, RedisSettings, connect
from scheduler.duties import run_once
from scheduler.job import JobRecord, JobSpec
from scheduler.queue import CancelOutcome, JobQueue, NoDelivery, SubmitOutcome
from scheduler.settings import QueueSettings

MODEL = "records.model"


@pytest.fixture
async def client(clean_redis: str) -> AsyncIterator[Client]:
    client = connect(RedisSettings(clean_redis))
    yield client
    await client.aclose()


async def _submit(
    queue: JobQueue, records: int, limits: AdmissionLimits = NO_LIMITS
) -> tuple[SubmitOutcome, str, Limit | None]:
    rows = [{"n": i} for i in range(records)]
    submission = await queue.submit(
        model=MODEL, version="1", requested_version="", submitter="ann", records=rows,
        records_json=json.dumps(rows), spec=JobSpec("python"), idempotency_key="", limits=limits,
    )  # fmt: skip
    return submission.outcome, submission.job_id, submission.limit


async def _counts(client: Client) -> tuple[int, int, int]:
    """(QUEUED, QUEUED_RECORDS, entries of the waiting index)."""
    counts = await client.hgetall(keys.counts(MODEL))  # type: ignore[misc]
    waiting = await client.zcard(keys.waiting(MODEL, "1"))
    return int(counts.get("QUEUED", 0)), int(counts.get("QUEUED_RECORDS", 0)), int(waiting)


async def _entry(client: Client, job_id: str) -> str:
    for entry_id, fields in await client.xrange(keys.queue(MODEL, "1")):
        if fields["job"] == job_id:
            return str(entry_id)
    raise AssertionError(f"no stream entry for {job_id}")


async def test_starting_and_cancelling_take_a_jobs_records_off(client: Client) -> None:
    queue = JobQueue(client, QueueSettings())
    try:
        ids = [(await _submit(queue, n))[1] for n in (2, 3, 5)]
        assert await _counts(client) == (3, 10, 3)
        assert await queue.start(MODEL, "1", ids[0], await _entry(client, ids[0]), "w1") is not None
        assert await _counts(client) == (2, 8, 2)
        # Delivered again (a worker died): still running, nothing counted twice.
        await queue.start(MODEL, "1", ids[0], await _entry(client, ids[0]), "w2")
        assert await _counts(client) == (2, 8, 2)
        job = await queue.get(ids[1])
        assert isinstance(job, JobRecord)
        assert await queue.cancel(job, "test") is CancelOutcome.CANCELLED
        assert await _counts(client) == (1, 5, 1)
        assert await queue.cancel(job, "test again") is CancelOutcome.CANCELLED  # leaves once
        assert await _counts(client) == (1, 5, 1)
        # A worker reaching the cancelled job's entry skips it, taking nothing more.
        assert await queue.start(MODEL, "1", ids[1], await _entry(client, ids[1]), "w1") is NoDelivery.CANCELLED
        assert await _counts(client) == (1, 5, 1)
    finally:
        await queue.close()


async def test_dead_letters_take_off_only_what_was_still_waiting(client: Client) -> None:
    queue = JobQueue(client, QueueSettings(delivery_limit=1))
    never = JobQueue(client, QueueSettings(delivery_limit=0))  # dead-letters on first delivery
    try:
        _, running, _ = await _submit(queue, 4)
        _, waiting, _ = await _submit(queue, 6)
        await queue.start(MODEL, "1", running, await _entry(client, running), "w1")
        assert await _counts(client) == (1, 6, 1)
        assert await queue.start(MODEL, "1", running, await _entry(client, running), "w2") is NoDelivery.DEAD_LETTER
        assert await _counts(client) == (1, 6, 1)
        assert await never.start(MODEL, "1", waiting, await _entry(client, waiting), "w1") is NoDelivery.DEAD_LETTER
        assert await _counts(client) == (0, 0, 0)
    finally:
        await queue.close()
        await never.close()


async def test_a_job_that_expired_while_waiting_leaves_the_counts(client: Client) -> None:
    settings = QueueSettings(job_ttl_s=1)
    queue = JobQueue(client, settings)
    try:
        _, reached, _ = await _submit(queue, 3)  # a worker reaches its entry
        _, abandoned, _ = await _submit(queue, 4)  # no worker ever does
        assert await _counts(client) == (2, 7, 2)
        await asyncio.sleep(1.6)  # both records expire; the index keeps their ids
        shard = keys.shard_of_model(MODEL)
        assert await client.exists(keys.job(reached, shard), keys.job(abandoned, shard)) == 0
        assert await queue.start(MODEL, "1", reached, await _entry(client, reached), "w1") is NoDelivery.EXPIRED
        assert await _counts(client) == (2, 7, 2)  # the scheduler's duties take them off
        done = await run_once(client, settings)
        assert done["expired_waiting"] == 2
        assert await _counts(client) == (0, 0, 0)
        assert (await run_once(client, settings))["expired_waiting"] == 0
    finally:
        await queue.close()


async def test_records_a_job_took_out_under_an_earlier_release_leave_at_its_ttl(client: Client) -> None:
    settings = QueueSettings(job_ttl_s=60)
    queue = JobQueue(client, settings)
    try:
        _, job_id, _ = await _submit(queue, 5)
        # A worker of the release before QUEUED_RECORDS: RUNNING, the waiting index untouched.
        job = keys.job(job_id, keys.shard_of_model(MODEL))
        await client.hset(job, "status", "RUNNING")  # type: ignore[misc]
        await client.hincrby(keys.counts(MODEL), "QUEUED", -1)  # type: ignore[misc]
        assert await _counts(client) == (0, 5, 1)
        done = await run_once(client, QueueSettings(job_ttl_s=0))  # its index entry is trimmed
        assert done["expired_waiting"] == 0  # not expired: only its records leave
        assert await _counts(client) == (0, 0, 0)
    finally:
        await queue.close()


async def test_the_script_refuses_records_over_the_models_limit(client: Client) -> None:
    queue = JobQueue(client, QueueSettings())
    limits = AdmissionLimits(model=ModelAdmission(max_queued_records=10))
    try:
        assert (await _submit(queue, 6, limits))[0] is SubmitOutcome.CREATED
        outcome, _, limit = await _submit(queue, 5, limits)
        assert (outcome, limit) == (SubmitOutcome.FULL, Limit.QUEUED_RECORDS)
        assert await _counts(client) == (1, 6, 1)  # a refusal counts nothing
        assert (await _submit(queue, 4, limits))[0] is SubmitOutcome.CREATED
        assert await _counts(client) == (2, 10, 2)
    finally:
        await queue.close()


async def test_a_models_rate_refusal_charges_no_other_bucket(client: Client) -> None:
    queue = JobQueue(client, QueueSettings())
    users = UserRates(jobs_per_s=0.001, jobs_burst=2, records_per_s=1000, records_burst=1000)
    limits = AdmissionLimits(users, ModelAdmission(user_jobs_per_s=0.001))  # a burst of 1
    try:
        assert (await _submit(queue, 1, limits))[0] is SubmitOutcome.CREATED
        outcome, _, limit = await _submit(queue, 1, limits)
        assert (outcome, limit) == (SubmitOutcome.LIMITED, Limit.MODEL_USER_JOBS)
        # The user's own bucket still holds its second job: the refusal took nothing.
        assert (await _submit(queue, 1, AdmissionLimits(users)))[0] is SubmitOutcome.CREATED
        outcome, _, limit = await _submit(queue, 1, AdmissionLimits(users))
        assert (outcome, limit) == (SubmitOutcome.LIMITED, Limit.USER_JOBS)
    finally:
        await queue.close()
