"""The submission script against a real Redis: a group of jobs leaves what the
same jobs submitted one by one leave (records, audit entries, counts, places),
and each job meets the idempotency key and the admission limits in order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from scheduler import bulk, keys
from scheduler.admission import AdmissionLimits, Limit, ModelAdmission, UserRates
from scheduler.connection import RedisSettings, connect
from scheduler.job import JobRecord, JobSpec, JobStatus
from scheduler.queue import JobQueue, SubmitOutcome
from scheduler.settings import QueueSettings

SPEC = JobSpec("python", {"callable": "workers.builtin.demo:echo"}, 30.0)
ROOMY = AdmissionLimits(UserRates(1000, 1000, 1000, 1000))


def _job(records: list[dict[str, Any]], key: str = "", user: str = "u") -> bulk.GroupJob:
    return bulk.GroupJob(user, records, json.dumps(records, separators=(",", ":")), key)


def _group(model: str, limits: AdmissionLimits = ROOMY) -> bulk.JobGroup:
    return bulk.JobGroup(model, "1.0.0", SPEC, limits, "default", "")


@pytest.fixture
async def queue(clean_redis: str) -> AsyncIterator[JobQueue]:
    client = connect(RedisSettings(clean_redis))
    queue = JobQueue(client, QueueSettings(audit_inline_bytes=100))
    yield queue
    await queue.close()
    await client.aclose()


async def test_a_group_writes_what_one_by_one_submissions_write(queue: JobQueue) -> None:
    records, big = [{"n": 1}], [{"text": "x" * 200}]  # the second audited by hash only
    singles = [
        await queue.submit(
            model="one", version="1.0.0", requested_version="", submitter="u", records=r,
            records_json=json.dumps(r, separators=(",", ":")), spec=SPEC, idempotency_key=k,
            limits=ROOMY, route="default",
        )
        for r, k in ((records, "k"), (big, ""))
    ]  # fmt: skip
    [reply] = await queue.submit_many([(_group("many"), [_job(records, "k"), _job(big)])])
    made = [r for r in reply.results if isinstance(r, bulk.Queued)]
    assert [q.jobs_ahead for q in made] == [0, 1] and made[0].created < made[1].created
    client: Redis = queue.client  # type: ignore[assignment]
    for single, created in zip(singles, made, strict=True):
        one = await client.hgetall(keys.job(single.job_id, keys.shard_of_model("one")))
        many = await client.hgetall(keys.job(created.job_id, keys.shard_of_model("many")))
        differ = {k for k in one.keys() | many.keys() if one.get(k) != many.get(k)}
        assert differ == {"id", "model", "created", "transitions"}, differ
        assert float(many["created"]) == created.created
    entries = [[e for _, e in await client.xrange(keys.audit(m))] for m in ("one", "many")]
    for single, grouped in zip(*entries, strict=True):
        differ = {k for k in single.keys() | grouped.keys() if single.get(k) != grouped.get(k)}
        assert differ == {"job", "model", "time"}, differ
    assert "input_sha256" in entries[1][1] and "input" not in entries[1][1]
    for m in ("one", "many"):
        assert await client.hgetall(keys.counts(m)) == {"QUEUED": "2", "QUEUED_RECORDS": "2"}
        assert await client.xlen(keys.queue(m, "1.0.0")) == 2
        assert await client.zcard(keys.model_jobs(m)) == 2
    assert await client.zcard(keys.user_jobs("u")) == 4
    second = JobRecord.from_hash(
        await client.hgetall(keys.job(made[1].job_id, keys.shard_of_model("many")))
    )
    assert second.status is JobStatus.QUEUED and (await queue.place(second)).jobs_ahead == 1


async def test_keys_are_checked_job_by_job_within_a_group_and_across_calls(queue: JobQueue) -> None:
    group = _group("keyed")
    [first] = await queue.submit_many([(group, [_job([{"n": 1}], "a")])])
    assert isinstance(first.results[0], bulk.Queued)
    earlier = first.results[0].job_id
    [reply] = await queue.submit_many(
        [
            (
                group,
                [
                    _job([{"n": 1}], "a"),
                    _job([{"n": 2}], "b"),
                    _job([{"n": 2}], "b"),
                    _job([{"n": 3}], "b"),
                ],
            )
        ]
    )
    dup, made, dup_in_call, conflict = reply.results
    assert isinstance(made, bulk.Queued)
    assert (dup.outcome, dup.job_id) == (SubmitOutcome.DUPLICATE, earlier)  # type: ignore[union-attr]
    assert (dup_in_call.outcome, dup_in_call.job_id) == (SubmitOutcome.DUPLICATE, made.job_id)  # type: ignore[union-attr]
    assert (conflict.outcome, conflict.job_id) == (SubmitOutcome.CONFLICT, made.job_id)  # type: ignore[union-attr]


async def test_limits_refuse_the_jobs_past_them_in_order(queue: JobQueue) -> None:
    burst = AdmissionLimits(UserRates(0.001, 3))
    [reply] = await queue.submit_many(
        [(_group("rated", burst), [_job([{"n": i}]) for i in range(5)])]
    )
    assert [type(r).__name__ for r in reply.results] == ["Queued"] * 3 + ["Submission"] * 2
    refused = reply.results[3]
    assert refused.outcome is SubmitOutcome.LIMITED and refused.limit is Limit.USER_JOBS  # type: ignore[union-attr]
    assert refused.retry_after_s > 100  # type: ignore[union-attr]
    capped = AdmissionLimits(model=ModelAdmission(max_queued_jobs=4))
    [full] = await queue.submit_many(
        [(_group("capped", capped), [_job([{"n": i}]) for i in range(6)])]
    )
    assert [r.queued for r in full.results[4:]] == [4, 4]  # type: ignore[union-attr]
    assert all(r.limit is Limit.QUEUED_JOBS for r in full.results[4:])  # type: ignore[union-attr]


class Counting:
    """The real client, counting the pipelines (round trips) opened on it."""

    def __init__(self, client: Any) -> None:
        self.client, self.opened = client, 0

    def pipeline(self, **kwargs: Any) -> Any:
        self.opened += 1
        return self.client.pipeline(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


async def test_large_groups_go_as_several_scripts_in_one_round_trip(clean_redis: str) -> None:
    client = Counting(connect(RedisSettings(clean_redis)))
    queue = JobQueue(client, QueueSettings())  # type: ignore[arg-type]
    count = bulk.MAX_JOBS_PER_SCRIPT * 2 + 7
    groups = [
        (_group(m, AdmissionLimits()), [_job([{"n": i}]) for i in range(count)])
        for m in ("big-a", "big-b")
    ]
    try:
        replies = await queue.submit_many(groups)
    finally:
        await queue.close()
        await client.client.aclose()
    assert client.opened == 1
    for reply in replies:
        made = [r for r in reply.results if isinstance(r, bulk.Queued)]
        assert [q.jobs_ahead for q in made] == list(range(count))
        assert [q.created for q in made] == sorted({q.created for q in made})
        assert len({q.job_id for q in made}) == count
