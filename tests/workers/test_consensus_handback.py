"""A stopping scheduler hands its consensus jobs back and leaves their children
running: the next consensus worker takes the parent, finds the same children by
their keys and finishes it. (Before, the hand-back cancelled the children and
the parent's next delivery failed on them.) Against a real Redis of its own."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from backendspec import BackendPolicy
from scheduler.connection import RedisSettings, connect
from scheduler.job import ChildSpec, JobRecord, JobSpec, JobStatus
from scheduler.queue import JobQueue
from scheduler.settings import QueueSettings
from workers.settings import WorkerSettings
from workers.worker import Worker

PARENT, CHILD = "handback.consensus", "handback.child"
POLICY = BackendPolicy(callables=("tests.workers.callables",))


def test_a_handed_back_consensus_job_keeps_its_children(own_redis_url: str) -> None:
    asyncio.run(_hand_back(RedisSettings(own_redis_url)))


def _consensus(index: int) -> WorkerSettings:
    return WorkerSettings(
        models=(), consensus=True, drain_grace_s=0.2, discovery_s=0.2, name=f"consensus-{index}"
    )


async def _until(
    queue: JobQueue, job_id: str, done: Callable[[JobRecord], object], timeout_s: float
) -> JobRecord:
    deadline = time.monotonic() + timeout_s
    while True:
        job = await queue.get(job_id)
        assert job is not None
        if done(job):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.05)


async def _hand_back(redis: RedisSettings) -> None:
    client = connect(redis)
    queue = JobQueue(client, QueueSettings())
    child_spec = JobSpec("python", {"callable": "tests.workers.callables:dozes"}, 30.0)
    config = {"formula": "a + 1", "children": [{"alias": "a", "model": CHILD, "output": "x"}]}
    spec = JobSpec(
        "consensus", config, 60.0, children={"a": ChildSpec(CHILD, "1", "x", child_spec)}
    )
    stops = [asyncio.Event() for _ in range(3)]
    child_worker = Worker(redis, QueueSettings(), WorkerSettings(models=(CHILD,), policy=POLICY))
    workers = [asyncio.create_task(child_worker.run(stops[0]))]
    workers.append(asyncio.create_task(Worker(redis, QueueSettings(), _consensus(1)).run(stops[1])))
    try:
        records = [{"i": 0}]
        submission = await queue.submit(
            model=PARENT, version="1", requested_version="", submitter="ann", records=records,
            records_json=json.dumps(records), spec=spec, idempotency_key="",
        )  # fmt: skip
        parent = await _until(
            queue, submission.job_id, lambda j: j.children and j.children[0].get("job_id"), 20
        )
        child_id = parent.children[0]["job_id"]
        await _until(queue, child_id, lambda j: j.status is JobStatus.RUNNING, 20)
        began = time.monotonic()
        stops[1].set()
        await asyncio.wait_for(workers[1], timeout=10)
        assert time.monotonic() - began < 2.0, "the stop waited for the children"
        child = await queue.get(child_id)
        assert child is not None and child.status is JobStatus.RUNNING, child  # not cancelled
        workers.append(
            asyncio.create_task(Worker(redis, QueueSettings(), _consensus(2)).run(stops[2]))
        )
        done = await _until(queue, submission.job_id, lambda j: j.status.terminal, 30)
        assert done.status is JobStatus.SUCCEEDED, done
        assert done.children[0]["job_id"] == child_id  # the same child, found again
        assert json.loads(done.result_json or "[]")[0]["output"]["consensus"] == 2
        child = await queue.get(child_id)
        assert child is not None and (child.status, child.attempts) == (JobStatus.SUCCEEDED, 1)
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        await queue.close()
        await client.aclose()
