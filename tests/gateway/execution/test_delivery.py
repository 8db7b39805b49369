"""At-least-once delivery: FIFO starts, a worker killed mid-job, dead letters."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from modelgateway.v1 import execution_pb2, job_pb2
from scheduler import keys
from scheduler.connection import RedisSettings, connect
from scheduler.queue import JobQueue
from scheduler.settings import QueueSettings

from .conftest import Jobs, _register, start_worker, stop_worker

S, F = job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED


def job_fields(jobs: Jobs, job_ids: list[str], *fields: str) -> list[list[str | None]]:
    async def read() -> list[list[str | None]]:
        client = connect(RedisSettings(jobs.mesh.env["MODELGW_REDIS_URL"]))
        try:
            pipe = client.pipeline(transaction=False)
            for job_id in job_ids:
                pipe.hmget(keys.job(job_id, keys.shard_of_job(job_id) or 0), list(fields))
            return list(await pipe.execute())
        finally:
            await client.aclose()

    return asyncio.run(read())


def test_thousand_jobs_across_two_workers_start_in_fifo_order(jobs: Jobs) -> None:
    ids = [jobs.submit("fifo", [{"i": i}]).id for i in range(1000)]
    for job_id in ids:
        assert jobs.wait(job_id).status == S
    rows = job_fields(jobs, ids, "start_seq", "worker")
    seqs = [int(seq) for seq, _ in rows]  # type: ignore[arg-type]
    assert sorted(seqs) == list(range(min(seqs), min(seqs) + 1000))
    by_worker: dict[str, list[int]] = {}
    for seq, worker in zip(seqs, (w for _, w in rows), strict=True):
        by_worker.setdefault(str(worker), []).append(seq)
    assert len(by_worker) == 2, "both workers took jobs"
    for worker_seqs in by_worker.values():
        assert worker_seqs == sorted(worker_seqs), "each worker starts its jobs in queue order"
    # Across the two workers, order is FIFO up to one read batch (the concurrency, 8).
    first = min(seqs)
    assert max(abs((seq - first) - rank) for rank, seq in enumerate(seqs)) <= 16


def test_a_job_of_a_killed_worker_completes_on_another(jobs: Jobs) -> None:
    model = jobs.model("killable")
    _register(jobs.mesh, model, "workers.builtin.demo:sleep", {"type": "object"}, {})
    doomed = start_worker(jobs.mesh, [model], "doomed", concurrency=1)
    rescuer = None
    try:
        job = jobs.submit("killable", [{"seconds": 2}])
        deadline = time.monotonic() + 15
        while jobs.get(job.id).status != job_pb2.JOB_STATUS_RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ((worker,),) = job_fields(jobs, [job.id], "worker")
        assert worker is not None and worker.endswith(f"-{doomed.pid}")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        rescuer = start_worker(jobs.mesh, [model], "rescuer", concurrency=1)
        done = jobs.wait(job.id, timeout_s=30)  # after the 3 s test lease
        assert done.status == S and done.attempts == 2
        ((worker,),) = job_fields(jobs, [job.id], "worker")
        assert worker is not None and worker.endswith(f"-{rescuer.pid}")
        assert [t.status for t in done.transitions] == [
            job_pb2.JOB_STATUS_QUEUED,
            job_pb2.JOB_STATUS_RUNNING,
            S,
        ]
    finally:
        stop_worker(doomed)
        if rescuer is not None:
            stop_worker(rescuer)


async def _deliver_and_abandon(
    redis_url: str, model: str, version: str, times: int, lease_ms: int
) -> None:
    """Plays workers that take the oldest job and die, `times` times."""
    client = connect(RedisSettings(redis_url))
    queue = JobQueue(client, QueueSettings(lease_ms=lease_ms))
    try:
        await queue.ensure_group(model, version)
        for attempt in range(times):
            ghost = f"ghost-{attempt}"
            # A new worker's reader: it claims the entry the last ghost left, or
            # reads it new the first time.
            [entry] = await queue.reader(client, model, version, ghost, block_ms=1000).read(1)
            entry_id = entry.entry_id
            await queue.start(model, version, entry.job_id, entry_id, ghost)
            # The ghost dies: make its lease look expired at once.
            await client.xclaim(
                keys.queue(model, version), keys.GROUP, ghost, 0, [entry_id], idle=lease_ms + 1, justid=True
            )
    finally:
        await client.aclose()


def test_a_job_past_its_delivery_limit_is_dead_lettered_and_does_not_block(jobs: Jobs) -> None:
    model = jobs.model("poison")
    _register(jobs.mesh, model, "workers.builtin.demo:echo", {"type": "object"}, {})
    poison = jobs.submit("poison", [{"x": 1}])
    healthy = jobs.submit("poison", [{"x": 2}])
    asyncio.run(
        _deliver_and_abandon(jobs.mesh.env["MODELGW_REDIS_URL"], model, poison.version, 3, 3000)
    )
    worker = start_worker(jobs.mesh, [model], "after-ghosts", concurrency=1)
    try:
        dead = jobs.wait(poison.id, timeout_s=20)
        assert dead.status == F and dead.error.reason == "dead_letter"
        assert "delivered 3 times" in dead.error.message and dead.attempts == 3
        assert jobs.wait(healthy.id, timeout_s=20).status == S
    finally:
        stop_worker(worker)
    failed = jobs.stub().ListJobs(
        execution_pb2.ListJobsRequest(model=model, status=F),
        metadata=jobs.mesh.metadata("root", superuser=True),
    )
    assert [j.id for j in failed.jobs] == [poison.id]


def _wait_running(jobs: Jobs, job_id: str) -> None:
    deadline = time.monotonic() + 15
    while jobs.get(job_id).status != job_pb2.JOB_STATUS_RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_sigterm_drains_finishing_short_jobs_and_handing_back_long_ones(jobs: Jobs) -> None:
    model = jobs.model("drainable")
    _register(jobs.mesh, model, "workers.builtin.demo:sleep", {"type": "object"}, {})
    draining = start_worker(jobs.mesh, [model], "draining", concurrency=2)  # --drain-grace 2
    successor = None
    try:
        short = jobs.submit("drainable", [{"seconds": 1}])
        # Longer than the 2 s grace with room to spare, and run twice (the hand-back).
        long = jobs.submit("drainable", [{"seconds": 5}])
        _wait_running(jobs, short.id)
        _wait_running(jobs, long.id)
        started = time.monotonic()
        draining.send_signal(signal.SIGTERM)
        assert draining.wait(timeout=15) == 0
        assert time.monotonic() - started < 6, "drain is bounded by the grace period"
        assert jobs.get(short.id).status == S, "a job that fits in the grace period finishes"
        assert jobs.get(long.id).status == job_pb2.JOB_STATUS_RUNNING
        successor = start_worker(jobs.mesh, [model], "successor", concurrency=2)
        handed = jobs.wait(long.id, timeout_s=30)
        assert handed.status == S and handed.attempts == 1, "a hand-back is not a failed attempt"
        ((worker,),) = job_fields(jobs, [long.id], "worker")
        assert worker is not None and worker.endswith(f"-{successor.pid}")
    finally:
        stop_worker(draining)
        if successor is not None:
            stop_worker(successor)
