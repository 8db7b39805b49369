"""A QUEUED job tells its caller its place in the queue, and warns when no worker
serves its model (gateway/execution/waiting.py), through real servers and workers.

The session mesh has workers announce themselves every 0.5 s and warns after
2 s without one (tests/conftest.py); WatchJob's heartbeat comes every second.
jobs_ahead counts the jobs ahead: 0 for the next job to start."""

from __future__ import annotations

import asyncio
import time
import uuid

from gateway.execution.waiting import RecentPlaces, no_worker_warning, queue_place_message
from modelgateway.v1 import execution_pb2, job_pb2
from scheduler.job import JobRecord, JobStatus
from scheduler.queue import QueuePlace

from .conftest import Jobs, register_backend, start_worker, stop_worker

Q, R, S, C = (
    job_pb2.JOB_STATUS_QUEUED,
    job_pb2.JOB_STATUS_RUNNING,
    job_pb2.JOB_STATUS_SUCCEEDED,
    job_pb2.JOB_STATUS_CANCELLED,
)
SLEEP_SCHEMA = {
    "type": "object",
    "properties": {"seconds": {"type": "number"}},
    "required": ["seconds"],
}


def fresh_model(jobs: Jobs, callable_: str = "workers.builtin.demo:echo") -> str:
    """A public model of its own that no worker has ever served; its suffix."""
    suffix = f"w{uuid.uuid4().hex[:8]}"
    schema = SLEEP_SCHEMA if callable_.endswith(":sleep") else {"type": "object"}
    register_backend(jobs.mesh, jobs.model(suffix), "python", {"callable": callable_}, schema)
    return suffix


def cancel(jobs: Jobs, job_id: str) -> job_pb2.Job:
    request = execution_pb2.CancelJobRequest(id=job_id)
    return jobs.stub().CancelJob(request, metadata=jobs.mesh.metadata("alice"), timeout=10).job


def warns(job: job_pb2.Job, model: str) -> bool:
    return f"no worker serving model {model!r} at version {job.version}" in job.queue_place.warning


def test_the_warning_comes_after_the_threshold_and_not_when_turned_off() -> None:
    assert no_worker_warning("m", 1.9, 2.0) == ""
    assert "no worker serving model 'm' has been seen in the last 2 s" in no_worker_warning("m", 2.0, 2.0)
    assert no_worker_warning("m", None, 2.0) == no_worker_warning("m", 3600.0, 2.0)  # stable text
    assert no_worker_warning("m", None, 0) == ""
    versioned = no_worker_warning("m", None, 2.0, "1.2.0")
    assert "no worker serving model 'm' at version 1.2.0" in versioned
    assert "`--models m@1.2.0`" in versioned
    seen = queue_place_message(QueuePlace(0, 100.25, 101.0), "m", 2.0)
    assert seen.HasField("jobs_ahead") and seen.jobs_ahead == 0 and not seen.warning
    assert seen.worker_seen_time.ToNanoseconds() == 100_250_000_000
    never = queue_place_message(QueuePlace(3, None, 101.0), "m", 2.0)
    assert never.jobs_ahead == 3 and never.warning and not never.HasField("worker_seen_time")


def test_a_job_no_worker_serves_warns_until_one_starts_then_runs(jobs: Jobs) -> None:
    suffix = fresh_model(jobs, "workers.builtin.demo:sleep")
    model = jobs.model(suffix)
    first = jobs.submit(suffix, [{"seconds": 3}])
    second = jobs.submit(suffix, [{"seconds": 0}])
    for job, ahead in ((first, 0), (second, 1)):
        assert job.HasField("queue_place") and job.queue_place.jobs_ahead == ahead
        assert warns(job, model), job.queue_place.warning
        assert not job.queue_place.HasField("worker_seen_time")
    polled = jobs.get(second.id)
    assert (polled.queue_place.jobs_ahead, polled.queue_place.warning) == (
        1,
        second.queue_place.warning,
    )

    worker = start_worker(jobs.mesh, [model], "waiting", concurrency=1)
    try:
        # One slot: the worker runs the first job for 3 s while the second waits
        # next in line, and no longer warns, as the worker announced itself.
        deadline = time.monotonic() + 20
        while True:
            waiting = jobs.get(second.id)
            assert waiting.status == Q and time.monotonic() < deadline, waiting
            if waiting.queue_place.jobs_ahead == 0 and not waiting.queue_place.warning:
                break
            time.sleep(0.05)
        assert waiting.queue_place.HasField("worker_seen_time")
        running = jobs.get(first.id)
        assert running.status == R and not running.HasField("queue_place")
        done = jobs.wait(second.id, timeout_s=20)
        assert done.status == S and not done.HasField("queue_place")
    finally:
        stop_worker(worker)


def test_three_queued_jobs_report_0_1_and_2_jobs_ahead(jobs: Jobs) -> None:
    suffix = fresh_model(jobs)
    submitted = [jobs.submit(suffix, [{"i": i}]) for i in range(3)]
    assert [j.queue_place.jobs_ahead for j in submitted] == [0, 1, 2]
    assert [jobs.get(j.id).queue_place.jobs_ahead for j in submitted] == [0, 1, 2]
    # Only jobs still waiting count: a cancelled one lets those behind it move up.
    cancelled = cancel(jobs, submitted[0].id)
    assert cancelled.status == C and not cancelled.HasField("queue_place")
    assert [jobs.get(j.id).queue_place.jobs_ahead for j in submitted[1:]] == [0, 1]
    listed = jobs.stub().ListJobs(
        execution_pb2.ListJobsRequest(model=jobs.model(suffix)), metadata=jobs.mesh.metadata("alice")
    )
    assert listed.jobs and not any(j.HasField("queue_place") for j in listed.jobs)
    for job in submitted[1:]:
        cancel(jobs, job.id)


def test_a_finished_job_carries_no_place(jobs: Jobs) -> None:
    done = jobs.wait(jobs.submit("echo", [{"x": 1}]).id)
    assert done.status == S and not done.HasField("queue_place")


def test_watch_tells_a_queued_job_s_place_and_each_change(jobs: Jobs) -> None:
    suffix = fresh_model(jobs)
    model = jobs.model(suffix)
    ahead, job = jobs.submit(suffix, [{}]), jobs.submit(suffix, [{}])
    stream = jobs.stub().WatchJob(
        execution_pb2.WatchJobRequest(id=job.id), metadata=jobs.mesh.metadata("alice"), timeout=30
    )
    opening = next(stream)
    assert opening.job.status == Q and opening.job.queue_place.jobs_ahead == 1
    assert warns(opening.job, model)
    cancel(jobs, ahead.id)
    # No event concerns this job: the next heartbeat's turn finds it moved up.
    moved = next(m for m in stream if not m.heartbeat)
    assert moved.job.status == Q and moved.job.queue_place.jobs_ahead == 0
    assert warns(moved.job, model)
    cancel(jobs, job.id)
    rest = [m for m in stream if not m.heartbeat]
    assert rest[-1].job.status == C and not rest[-1].job.HasField("queue_place")


async def test_a_place_read_answers_the_next_reads_while_it_is_fresh() -> None:
    reads: list[str] = []

    async def read(job: JobRecord) -> QueuePlace:
        reads.append(job.id)
        return QueuePlace(jobs_ahead=len(reads), worker_seen=None, now=0.0)

    def job(job_id: str) -> JobRecord:
        return JobRecord(
            id=job_id, model="m", version="1", submitter="u", status=JobStatus.QUEUED,
            created=0.0, record_count=1,
        )  # fmt: skip

    places = RecentPlaces(read, fresh_s=0.2, size=2)
    assert [(await places.of(job("a"))).jobs_ahead for _ in range(3)] == [1, 1, 1]
    await asyncio.sleep(0.25)
    assert (await places.of(job("a"))).jobs_ahead == 2, "read again once stale"
    await places.of(job("b"))
    await places.of(job("c"))  # a third job: the oldest is forgotten
    assert (await places.of(job("a"))).jobs_ahead == 5
    assert reads == ["a", "a", "b", "c", "a"]
    fresh = RecentPlaces(read, fresh_s=0)
    await fresh.of(job("d"))
    await fresh.of(job("d"))
    assert reads[-2:] == ["d", "d"], "0: every call reads"
