"""Redis going away and coming back, and the same protocol on a Redis Cluster."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh import LocalRedis, LocalRedisCluster, free_port
from modelgateway.v1 import execution_pb2, job_pb2
from tests.conftest import make_scratch_dir
from tests.harness import Mesh, start_server, wait_serving

from .conftest import Jobs, start_worker, stop_worker


def own_execution_server(jobs: Jobs, redis_url: str, home: Path, **settings: str) -> Mesh:
    port = free_port()
    env = {
        **jobs.mesh.env,
        "MODELGW_HOME": str(home),
        "MODELGW_REDIS_URL": redis_url,
        "MODELGW_EXECUTION_PORT": str(port),
        **settings,
    }
    mesh = Mesh(
        env=env,
        addresses={"execution": f"127.0.0.1:{port}"},
        logs={"execution": home / "execution.log", "registry": home / "registry.log"},
    )
    # Tokens must verify against the session's signing key.
    mesh.env["MODELGW_JWT_SIGNING_KEY"] = str(jobs.mesh.config.auth.signing_key_path)
    start_server(mesh, "execution")
    wait_serving(mesh, "execution")
    return mesh


SERVICE = "modelgateway.v1.ExecutionService"


def _batch(model: str, count: int) -> execution_pb2.SubmitJobsRequest:
    """A SubmitJobs call of `count` one-record jobs of model."""
    record = struct_pb2.Struct()
    record.update({"x": 1})
    job = execution_pb2.SubmitJobRequest(model=model, records=[record])
    return execution_pb2.SubmitJobsRequest(jobs=[job] * count)
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def _health(mesh: Mesh, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(mesh.channel("execution"))
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status)


def _until_health(mesh: Mesh, service: str, status: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _health(mesh, service) != status:
        assert time.monotonic() < deadline, f"{service} never became {status}"
        time.sleep(0.1)


def stop_server(mesh: Mesh) -> None:
    for channel in mesh.channels.values():
        channel.close()
    for process in mesh.processes.values():
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = make_scratch_dir("faults")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_redis_down_gives_unavailable_and_recovers_without_restart(
    jobs: Jobs, scratch: Path
) -> None:
    redis = LocalRedis(scratch / "redis", free_port(), persistence=True)
    redis.start()
    mesh = own_execution_server(jobs, redis.url, scratch)
    own = Jobs(mesh, jobs.prefix)
    try:
        before = own.submit("unserved", [{"x": 1}])
        _until_health(mesh, SERVICE, SERVING)
        redis.stop()
        # Readiness follows Redis; liveness does not (the server recovers by itself).
        _until_health(mesh, SERVICE, NOT_SERVING)
        assert _health(mesh, "") == SERVING
        batch = _batch(jobs.model("unserved"), 2)
        calls = (
            lambda: own.submit("unserved", [{"x": 2}]),
            lambda: own.get(before.id),
            lambda: own.stub().SubmitJobs(batch, metadata=mesh.metadata("alice"), timeout=10),
        )
        for call in calls:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as failure:
                call()
            assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value.details()
            assert time.monotonic() - started < 5
        redis.start()  # same data directory: the acknowledged job survived
        deadline = time.monotonic() + 20
        while True:
            try:
                again = own.get(before.id)
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
                time.sleep(0.2)
        assert again.status == job_pb2.JOB_STATUS_QUEUED
        assert own.submit("unserved", [{"x": 3}]).status == job_pb2.JOB_STATUS_QUEUED
        _until_health(mesh, SERVICE, SERVING)
    finally:
        stop_server(mesh)
        redis.stop()


def test_submit_execute_result_and_watch_on_a_redis_cluster(
    jobs: Jobs, scratch: Path, redis_cluster: LocalRedisCluster
) -> None:
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in redis_cluster.ports)
    mesh = own_execution_server(jobs, url, scratch)
    own = Jobs(mesh, jobs.prefix)
    worker = start_worker(mesh, [jobs.model("echo"), jobs.model("sleep")], "cluster", concurrency=4)
    try:
        quick = [own.submit("echo", [{"i": i}]) for i in range(20)]
        for job in quick:
            done = own.wait(job.id)
            assert done.status == job_pb2.JOB_STATUS_SUCCEEDED
        assert [int(own.get(j.id).results[0].output["echo"]["i"]) for j in quick] == list(range(20))
        # SubmitJobs too: the script in the model's slot, the indexes in theirs.
        batch = own.stub().SubmitJobs(_batch(jobs.model("echo"), 30), metadata=mesh.metadata("alice"))
        assert all(own.wait(r.job.id).status == job_pb2.JOB_STATUS_SUCCEEDED for r in batch.results)
        mine = own.stub().ListJobs(execution_pb2.ListJobsRequest(page_size=30), metadata=mesh.metadata("alice"))
        assert {j.id for j in mine.jobs} == {r.job.id for r in batch.results}
        # A queued job's place and the no-worker warning come from the model's slot too.
        waiting = [own.submit("unserved", [{"i": i}]) for i in range(2)]
        assert [own.get(j.id).queue_place.jobs_ahead for j in waiting] == [0, 1]
        assert all("no worker serving model" in j.queue_place.warning for j in waiting)
        for job in waiting:
            own.stub().CancelJob(execution_pb2.CancelJobRequest(id=job.id), metadata=mesh.metadata("alice"))
        slow = own.submit("sleep", [{"seconds": 1}])
        stream = own.stub().WatchJob(
            execution_pb2.WatchJobRequest(id=slow.id), metadata=mesh.metadata("alice"), timeout=30
        )
        statuses = [m.job.status for m in stream if not m.heartbeat]
        assert (
            statuses[-1] == job_pb2.JOB_STATUS_SUCCEEDED and job_pb2.JOB_STATUS_RUNNING in statuses
        )
    finally:
        stop_worker(worker)
        stop_server(mesh)




def _submit_until_served(own: Jobs, suffix: str, record: dict[str, int], timeout_s: float = 20) -> job_pb2.Job:
    """A job submitted as soon as the execution server reaches Redis again."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return own.submit(suffix, [record])
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
            time.sleep(0.1)


def test_a_job_submitted_after_a_redis_restart_runs_without_waiting_a_lease(
    jobs: Jobs, scratch: Path
) -> None:
    """The worker's pooled connections are stale after the restart: its first start of
    a job fails on one and must be retried on a fresh connection, not left pending
    for a 30 s lease."""
    redis = LocalRedis(scratch / "redis", free_port(), persistence=True)
    redis.start()
    mesh = own_execution_server(jobs, redis.url, scratch, MODELGW_LEASE_SECONDS="30")
    own = Jobs(mesh, jobs.prefix)
    worker = start_worker(mesh, [jobs.model("echo")], "restart", concurrency=2)
    try:
        first = own.submit("echo", [{"i": 1}])
        assert own.wait(first.id).status == job_pb2.JOB_STATUS_SUCCEEDED
        redis.stop()
        redis.start()
        job = _submit_until_served(own, "echo", {"i": 2})
        assert own.wait(job.id, timeout_s=5).status == job_pb2.JOB_STATUS_SUCCEEDED
    finally:
        stop_worker(worker)
        stop_server(mesh)
        redis.stop()
