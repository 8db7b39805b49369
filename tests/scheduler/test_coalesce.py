"""Concurrent single submissions against a real Redis: those waiting for one batch
go as one script call, whoever sent them, and each caller still gets what a
submission of its own would have given: its own job, its own bucket's verdict,
its own idempotency key's earlier job."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from scheduler import bulk, keys
from scheduler.admission import NO_LIMITS, AdmissionLimits, Limit, UserRates
from scheduler.connection import RedisSettings, connect
from scheduler.job import JobRecord, JobSpec, JobStatus
from scheduler.queue import JobQueue, Submission, SubmitOutcome
from scheduler.settings import QueueSettings

SPEC = JobSpec("python", {"callable": "workers.builtin.demo:echo"}, 30.0)
MODEL = "coalesced"


@pytest.fixture
async def queue(clean_redis: str) -> AsyncIterator[JobQueue]:
    client = connect(RedisSettings(clean_redis))
    queue = JobQueue(client, QueueSettings())
    yield queue
    await queue.close()
    await client.aclose()


def submit(
    queue: JobQueue,
    user: str,
    n: int = 0,
    *,
    key: str = "",
    version: str = "1",
    limits: AdmissionLimits = NO_LIMITS,
    spec: JobSpec = SPEC,
) -> Any:
    records = [{"n": n}]
    return queue.submit(
        model=MODEL, version=version, requested_version="", submitter=user, records=records,
        records_json=json.dumps(records), spec=spec, idempotency_key=key, limits=limits,
    )  # fmt: skip


async def test_concurrent_submissions_of_several_users_go_as_one_script_call(
    queue: JobQueue,
) -> None:
    users = ["ann", "bob", "cy"]
    done = await asyncio.gather(*(submit(queue, users[i % 3], i) for i in range(30)))
    assert all(s.outcome is SubmitOutcome.CREATED for s in done)
    # One script call: one clock reading, the jobs a microsecond apart in order.
    created = [s.job.created for s in done]
    assert [round((t - created[0]) * 1e6) for t in created] == list(range(30))
    assert [s.place.jobs_ahead for s in done] == list(range(30))
    client: Redis = queue.client  # type: ignore[assignment]
    for i, s in enumerate(done):
        stored = JobRecord.from_hash(
            await client.hgetall(keys.job(s.job_id, keys.shard_of_model(MODEL)))
        )
        assert (stored.submitter, stored.status) == (users[i % 3], JobStatus.QUEUED)
        assert stored == s.job
    for u, user in enumerate(users):
        mine = {s.job_id for s in done[u::3]}
        assert set(await client.zrange(keys.user_jobs(user), 0, -1)) == mine
    audit = [e for _, e in await client.xrange(keys.audit(MODEL))]
    assert [(e["job"], e["user"]) for e in audit] == [
        (s.job_id, users[i % 3]) for i, s in enumerate(done)
    ]
    assert await client.hgetall(keys.counts(MODEL)) == {"QUEUED": "30", "QUEUED_RECORDS": "30"}


async def test_each_submitter_meets_its_own_bucket_within_the_shared_call(
    queue: JobQueue,
) -> None:
    two_each = AdmissionLimits(UserRates(0.001, 2))
    done = await asyncio.gather(
        *(submit(queue, ("ann", "bob")[i % 2], i, limits=two_each) for i in range(6))
    )
    outcomes = [s.outcome for s in done]
    assert outcomes == [SubmitOutcome.CREATED] * 4 + [SubmitOutcome.LIMITED] * 2
    assert {s.limit for s in done[4:]} == {Limit.USER_JOBS}
    assert all(s.retry_after_s > 100 for s in done[4:])
    # Ann's bucket is empty now, and stays so on her next, separate submission.
    assert (await submit(queue, "ann", limits=two_each)).outcome is SubmitOutcome.LIMITED


async def test_idempotency_keys_are_each_users_own_within_the_shared_call(
    queue: JobQueue,
) -> None:
    first, again, other = await asyncio.gather(
        submit(queue, "ann", key="k"), submit(queue, "ann", key="k"), submit(queue, "bob", key="k")
    )
    assert first.outcome is SubmitOutcome.CREATED and other.outcome is SubmitOutcome.CREATED
    assert (again.outcome, again.job_id) == (SubmitOutcome.DUPLICATE, first.job_id)
    changed = await submit(queue, "ann", 5, key="k")
    assert (changed.outcome, changed.job_id) == (SubmitOutcome.CONFLICT, first.job_id)


async def test_submissions_to_other_versions_or_specs_go_in_calls_of_their_own(
    queue: JobQueue,
) -> None:
    other_spec = JobSpec("python", {"callable": "workers.builtin.demo:echo"}, 60.0)
    done = await asyncio.gather(
        submit(queue, "ann", 0), submit(queue, "ann", 1, version="2"),
        submit(queue, "ann", 2), submit(queue, "ann", 3, spec=other_spec),
    )  # fmt: skip
    assert [s.place.jobs_ahead for s in done] == [0, 0, 1, 2]
    assert [s.job.version for s in done] == ["1", "2", "1", "1"]
    assert done[3].job.spec.timeout_s == 60.0
    client: Redis = queue.client  # type: ignore[assignment]
    waiting = [f["job"] for _, f in await client.xrange(keys.queue(MODEL, "1"))]
    assert waiting == [done[0].job_id, done[2].job_id, done[3].job_id]


async def test_a_caller_that_gives_up_leaves_the_others_answered(queue: JobQueue) -> None:
    calls = [asyncio.ensure_future(submit(queue, "ann", i)) for i in range(5)]
    await asyncio.sleep(0)  # each is waiting for the batch now
    calls[1].cancel()
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    answered = [s for s in done if isinstance(s, Submission)]
    assert len(answered) == 4 and all(s.outcome is SubmitOutcome.CREATED for s in answered)


async def test_more_than_one_scripts_worth_goes_as_several_calls_in_order(queue: JobQueue) -> None:
    count = bulk.MAX_JOBS_PER_SCRIPT * 2 + 3
    done = await asyncio.gather(*(submit(queue, f"u{i % 7}", i) for i in range(count)))
    assert [s.place.jobs_ahead for s in done] == list(range(count))
    created = [s.job.created for s in done]
    assert created == sorted(set(created))
    assert len({s.job_id for s in done}) == count


async def test_a_redis_that_is_down_fails_every_waiting_submission() -> None:
    # Port 1 refuses connections: every caller of the shared call gets the error, fast.
    client = connect(RedisSettings("redis://127.0.0.1:1", connect_timeout_s=0.5))
    queue = JobQueue(client, QueueSettings())
    try:
        done = await asyncio.wait_for(
            asyncio.gather(*(submit(queue, "ann", i) for i in range(3)), return_exceptions=True),
            10,
        )
    finally:
        await queue.close()
        await client.aclose()
    assert len(done) == 3 and all(isinstance(e, RedisConnectionError) for e in done)


async def test_hostile_user_names_and_keys_stay_data(queue: JobQueue) -> None:
    # Names and keys travel as separate arguments or by byte length, never inside
    # the script's per-job lines: spaces, newlines and braces cannot shift a job.
    users = ["a b", "x\ny 1 2 3", "{tag}|é"]
    done = await asyncio.gather(*(submit(queue, u, i, key=f"k {u}\n") for i, u in enumerate(users)))
    assert [s.job.submitter for s in done] == users
    client: Redis = queue.client  # type: ignore[assignment]
    for user, s in zip(users, done, strict=True):
        stored = await client.hgetall(keys.job(s.job_id, keys.shard_of_model(MODEL)))
        assert (stored["submitter"], stored["idem_key"]) == (user, f"k {user}\n")
