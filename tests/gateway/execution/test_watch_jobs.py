"""WatchJobs against the session's servers and workers: many jobs on one stream,
each job's own NOT_FOUND, the bounds of a request, and no change lost between
registering the jobs and reading them."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

import grpc
import pytest
import redis

from authz.principal import Principal
from gateway.execution.messages import SharedWatchMessages
from gateway.execution.watch_jobs import MAX_JOBS, JobsWatch
from modelgateway.v1 import execution_pb2, job_pb2
from scheduler import keys
from scheduler.connection import connect, connect_node
from scheduler.events import JobEvents
from scheduler.job import JobRecord, JobStatus
from scheduler.queue import JobQueue
from tests.harness import Mesh

from .conftest import TERMINAL, Jobs

Q, S, C = job_pb2.JOB_STATUS_QUEUED, job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_CANCELLED
E = execution_pb2


def watch_jobs(
    jobs: Jobs, ids: Iterable[str], user: str = "alice", timeout: float = 30
) -> list[E.WatchJobsResponse]:
    """The whole stream, until the server ends it."""
    request = E.WatchJobsRequest(ids=list(ids))
    stream = jobs.stub().WatchJobs(request, metadata=jobs.mesh.metadata(user), timeout=timeout)
    return list(stream)


def entries(messages: Sequence[E.WatchJobsResponse]) -> list[E.WatchedJob]:
    return [entry for message in messages for entry in message.jobs]


def by_job(messages: Sequence[E.WatchJobsResponse]) -> dict[str, list[int]]:
    statuses: dict[str, list[int]] = defaultdict(list)
    for entry in entries(messages):
        assert not entry.HasField("error"), entry
        assert entry.job.id == entry.id
        statuses[entry.id].append(entry.job.status)
    return statuses


def unknown_id() -> str:
    """A well-formed job UUID that names no job."""
    return keys.new_job_id(f"no.such-model-{uuid.uuid4().hex[:6]}")


def test_fifty_jobs_on_one_stream_all_end_and_so_does_the_stream(jobs: Jobs) -> None:
    """Jobs no worker serves, cancelled once watched: each change is the test's own,
    whatever else the session's workers are busy with."""
    submitted = [jobs.submit("unserved", [{"n": n}]).id for n in range(50)]
    stream = jobs.stub().WatchJobs(
        E.WatchJobsRequest(ids=submitted), metadata=jobs.mesh.metadata("alice"), timeout=30
    )
    first = next(stream)  # the current state of every job, in one message
    assert [(e.id, e.job.status) for e in first.jobs] == [(i, Q) for i in submitted]
    for job_id in submitted:
        jobs.stub().CancelJob(E.CancelJobRequest(id=job_id), metadata=jobs.mesh.metadata("alice"))
    statuses = by_job(list(stream))  # ends by itself once every job is final
    assert statuses == {job_id: [C] for job_id in submitted}


def test_jobs_run_by_workers_arrive_with_their_results(jobs: Jobs) -> None:
    submitted = [jobs.submit("echo", [{"n": n}]).id for n in range(5)]
    messages = watch_jobs(jobs, submitted)
    finals = {e.id: e.job for e in entries(messages) if e.job.status in TERMINAL}
    assert set(finals) == set(submitted)
    for n, job_id in enumerate(submitted):
        assert finals[job_id].results[0].output["echo"]["n"] == n
    for seen in by_job(messages).values():
        assert seen == sorted(seen) and seen[-1] == S  # QUEUED, RUNNING, SUCCEEDED in order


def test_a_job_finished_before_the_call_gives_its_final_state_at_once(jobs: Jobs) -> None:
    done = jobs.wait(jobs.submit("echo", [{"x": 1}]).id)
    waiting = jobs.submit("unserved", [{"x": 2}])
    request = E.WatchJobsRequest(ids=[done.id, waiting.id, done.id.upper()])  # a duplicate
    stream = jobs.stub().WatchJobs(request, metadata=jobs.mesh.metadata("alice"), timeout=30)
    first = next(stream)
    assert [(e.id, e.job.status) for e in first.jobs] == [(done.id, S), (waiting.id, Q)]
    assert first.jobs[0].job.results[0].output["echo"]["x"] == 1
    assert next(stream).heartbeat  # nothing changes: the test mesh's idle second
    jobs.stub().CancelJob(E.CancelJobRequest(id=waiting.id), metadata=jobs.mesh.metadata("alice"))
    rest = list(stream)  # the cancellation, then the end of the stream
    assert [(e.id, e.job.status) for e in entries(rest)] == [(waiting.id, C)]


def test_unknown_and_foreign_jobs_get_their_own_not_found(jobs: Jobs) -> None:
    mine = jobs.submit("echo", [{"x": 2}]).id
    theirs = jobs.submit("echo", [{"x": 1}], user="mallory").id
    unknown = unknown_id()
    messages = watch_jobs(jobs, [unknown, mine, theirs])
    errors = {e.id: e.error for e in entries(messages) if e.HasField("error")}
    assert set(errors) == {unknown, theirs}
    for job_id, error in errors.items():
        assert error.code == grpc.StatusCode.NOT_FOUND.value[0]
        with pytest.raises(grpc.RpcError) as get:
            jobs.get(job_id, user="alice")
        assert error.message == get.value.details()  # exactly what GetJob answers
    statuses = [e.job.status for e in entries(messages) if e.id == mine]
    assert statuses[-1] == S
    assert not any(m.HasField("error") for m in messages)  # the stream itself went on


def test_a_job_that_expires_while_watched_gets_its_own_not_found(jobs: Jobs) -> None:
    gone, kept = (jobs.submit("unserved", [{"n": n}]) for n in range(2))
    request = E.WatchJobsRequest(ids=[gone.id, kept.id])
    stream = jobs.stub().WatchJobs(request, metadata=jobs.mesh.metadata("alice"), timeout=30)
    assert len(next(stream).jobs) == 2
    with redis.Redis.from_url(jobs.mesh.env["MODELGW_REDIS_URL"]) as client:
        client.delete(keys.job(gone.id, keys.shard_of_model(gone.model)))  # as its TTL would
        client.publish(keys.EVENTS_CHANNEL, f"{gone.id} QUEUED")
    (entry,) = next(stream).jobs
    assert entry.id == gone.id and "expired while being watched" in entry.error.message
    jobs.stub().CancelJob(E.CancelJobRequest(id=kept.id), metadata=jobs.mesh.metadata("alice"))
    assert [(e.id, e.job.status) for e in entries(list(stream))] == [(kept.id, C)]


def test_the_owner_and_a_superuser_see_every_job_the_stranger_none(jobs: Jobs) -> None:
    job = jobs.wait(jobs.submit("echo", [{"x": 1}], user="dave").id, user="dave")
    for user in ("dave", "root"):
        metadata = jobs.mesh.metadata(user, superuser=user == "root")
        stream = jobs.stub().WatchJobs(E.WatchJobsRequest(ids=[job.id]), metadata=metadata)
        assert [e.job.status for e in entries(list(stream))] == [S]
    (entry,) = entries(watch_jobs(jobs, [job.id], user="eve"))
    assert entry.error.code == grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.parametrize(
    ("ids", "words"),
    [
        ([], "ids is required"),
        (["not-a-job"], "ids[0] 'not-a-job' is not a job UUID"),
        ([unknown_id(), "  "], "ids[1] is empty"),
        ([unknown_id() for _ in range(MAX_JOBS + 1)], f"at most {MAX_JOBS:,} per WatchJobs call"),
    ],
    ids=["none", "malformed", "empty", "over-the-bound"],
)
def test_a_bad_request_is_invalid_argument_saying_what_to_fix(
    jobs: Jobs, ids: list[str], words: str
) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        watch_jobs(jobs, ids, timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in failure.value.details(), failure.value.details()


def test_the_bound_counts_distinct_jobs(jobs: Jobs) -> None:
    done = jobs.wait(jobs.submit("echo", [{"x": 1}]).id)
    messages = watch_jobs(jobs, [done.id] * (MAX_JOBS + 5))
    assert [e.id for e in entries(messages)] == [done.id]


async def test_a_change_between_registering_and_reading_is_not_lost(mesh: Mesh, jobs: Jobs) -> None:
    """The jobs are cancelled after the handler has read them QUEUED, before it sees
    the read: only their events can tell the stream, and they must."""
    config = mesh.config
    client = connect(config.redis)
    queue = JobQueue(client, config.queue)
    events = JobEvents(lambda: connect_node(config.redis), queue.get)
    await events.start()
    ids = [jobs.submit("unserved", [{"n": n}]).id for n in range(5)]

    async def read_then_cancel(chosen: Sequence[str]) -> list[JobRecord | None]:
        records = await queue.get_many(chosen)
        for record in records:
            assert record is not None and record.status is JobStatus.QUEUED
            await queue.cancel(record, "cancelled between the read and its answer")
        return records  # as read: QUEUED

    watch = JobsWatch(
        read_then_cancel, events, lambda principal, model, submitter: True, _never_reloaded,
        SharedWatchMessages(), heartbeat_s=0.5,
    )  # fmt: skip
    try:
        async with asyncio.timeout(15):  # lost events would leave the stream waiting
            messages = [m async for m in watch.stream(ids, Principal("alice"))]
    finally:
        await events.stop()
        await queue.close()
        await client.aclose()
    statuses = by_job(messages)
    assert {job_id: seen[-1] for job_id, seen in statuses.items()} == dict.fromkeys(ids, C)


async def _never_reloaded() -> bool:
    return False
