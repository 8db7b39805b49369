"""Model code cannot end its worker: SystemExit, os._exit and a segfault fail only their
own job, at once, with reason model_crashed, and the next job runs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh.process import is_alive
from modelgateway.v1 import execution_pb2, job_pb2

from .conftest import Jobs, _register, add_version, register_backend, start_worker, stop_worker

S, F, R, C = (
    job_pb2.JOB_STATUS_SUCCEEDED,
    job_pb2.JOB_STATUS_FAILED,
    job_pb2.JOB_STATUS_RUNNING,
    job_pb2.JOB_STATUS_CANCELLED,
)
ANY = {"type": "object"}
POISON = {
    "exits": "the model raised SystemExit: 3",
    "exits_async": "the model raised SystemExit: the model gave up",
    "hard_exit": "exited with code 7",
    "segfault": "killed by signal SIGSEGV",
}
# version of the poison model -> (callable in tests.gateway.execution.callables, extra backend config)
VERSIONS = {
    **{name.replace("_", "-"): (name, {}) for name in POISON},
    "pid": ("pid", {}),
    "hang": ("hang", {"timeout_s": 2}),
    "stuck": ("hang", {}),
}


@pytest.fixture(scope="module")
def worker(jobs: Jobs) -> Iterator[int]:
    """One worker running one job at a time, so the jobs after a poison one wait for it.

    Each callable is a version of one model: the worker reads one queue. (With one
    slot and several queues, each queue's reader holds the slot for a blocking read
    in turn, and a job waits for its queue's turn.)
    """
    model = jobs.model("crashing")
    register_backend(jobs.mesh, model, "python", {"callable": "tests.gateway.execution.callables:pid"})
    for version, (function, extra) in VERSIONS.items():
        config = {"callable": f"tests.gateway.execution.callables:{function}", **extra}
        add_version(jobs.mesh, model, version, "python", config)
    process = start_worker(jobs.mesh, [model], "poison", concurrency=1)
    try:
        yield process.pid
    finally:
        assert process.poll() is None, "the worker outlived every poison job"
        stop_worker(process)


def _submit(jobs: Jobs, version: str, record: dict[str, Any]) -> str:
    return jobs.submit("crashing", [record], version=version).id


def test_poison_jobs_fail_at_once_and_the_next_job_runs(jobs: Jobs, worker: int) -> None:
    started = time.monotonic()
    poison = {name: _submit(jobs, name.replace("_", "-"), {"x": 1}) for name in POISON}
    healthy = _submit(jobs, "pid", {"x": 2})
    done = jobs.wait(healthy, timeout_s=20)
    assert done.status == S, done.error
    assert done.results[0].output["pid"] != worker, "python models run out of the worker"
    # Each version has its queue, which the worker's one slot reads in turn: a
    # poison job may still be running when the healthy job has finished.
    outcomes = {name: jobs.wait(poison[name], timeout_s=20) for name in POISON}
    assert time.monotonic() - started < 10, "no poison job waited for a lease"
    for name, fragment in POISON.items():
        failed = outcomes[name]
        assert (failed.status, failed.error.reason) == (F, "model_crashed"), (name, failed)
        assert fragment in failed.error.message, (name, failed.error.message)
        assert failed.attempts == 1, name
    assert is_alive(worker)


def _pid_of_hanging_model(pid_file: Path) -> int:
    deadline = time.monotonic() + 15
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the hanging model never started"
        time.sleep(0.05)
    return int(pid_file.read_text())


def _wait_gone(pid: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        assert time.monotonic() < deadline, f"the model's process {pid} still runs"
        time.sleep(0.05)


def test_a_model_past_its_timeout_is_killed(jobs: Jobs, worker: int, tmp_path: Path) -> None:
    pid_file = tmp_path / "hang.pid"
    job = _submit(jobs, "hang", {"pid_file": str(pid_file)})
    model_pid = _pid_of_hanging_model(pid_file)
    assert model_pid != worker
    done = jobs.wait(job, timeout_s=20)
    assert (done.status, done.error.reason) == (F, "timeout")
    _wait_gone(model_pid)
    assert jobs.wait(_submit(jobs, "pid", {}), timeout_s=10).status == S


def test_a_cancelled_model_is_killed(jobs: Jobs, worker: int, tmp_path: Path) -> None:
    pid_file = tmp_path / "stuck.pid"
    job = _submit(jobs, "stuck", {"pid_file": str(pid_file)})
    model_pid = _pid_of_hanging_model(pid_file)
    assert jobs.get(job).status == R
    jobs.stub().CancelJob(
        execution_pb2.CancelJobRequest(id=job), metadata=jobs.mesh.metadata("alice")
    )
    _wait_gone(model_pid)
    assert jobs.wait(job).status == C
    assert jobs.wait(_submit(jobs, "pid", {}), timeout_s=10).status == S


def test_the_model_process_ends_with_its_killed_worker(jobs: Jobs, tmp_path: Path) -> None:
    model = jobs.model("orphan")
    _register(jobs.mesh, model, "tests.gateway.execution.callables:hang", ANY, {})
    doomed = start_worker(jobs.mesh, [model], "orphaning", concurrency=1)
    try:
        pid_file = tmp_path / "orphan.pid"
        job = jobs.submit("orphan", [{"pid_file": str(pid_file)}])
        model_pid = _pid_of_hanging_model(pid_file)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        _wait_gone(model_pid)
    finally:
        stop_worker(doomed)
    stub = jobs.stub()
    stub.CancelJob(execution_pb2.CancelJobRequest(id=job.id), metadata=jobs.mesh.metadata("alice"))
