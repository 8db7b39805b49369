"""Models registered for the execution tests, and real worker processes running them."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from modelgateway.v1 import (
    execution_pb2,
    execution_pb2_grpc,
    job_pb2,
    model_pb2,
    registry_pb2,
)
from tests.harness import Mesh, spawn_modelgw, stop_process

ANY = {"type": "object"}
# name suffix -> (callable, input schema, extra backend config)
MODELS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "echo": ("workers.builtin.demo:echo", ANY, {}),
    "fifo": ("workers.builtin.demo:echo", ANY, {}),
    "sleep": (
        "workers.builtin.demo:sleep",
        {"type": "object", "properties": {"seconds": {"type": "number"}}, "required": ["seconds"]},
        {},
    ),
    "picky": (
        "tests.gateway.execution.callables:picky",
        {
            "type": "object",
            "properties": {"n": {"type": "integer"}, "bad": {"type": "boolean"}},
            "required": ["n"],
        },
        {},
    ),
    "fail": ("tests.gateway.execution.callables:fail", ANY, {}),
    "timeout": ("tests.gateway.execution.callables:slow", ANY, {"timeout_s": 1}),
    "unserved": ("workers.builtin.demo:echo", ANY, {}),
}
SERVED = ("echo", "fifo", "sleep", "picky", "fail", "timeout")
TERMINAL = {job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED}


@dataclass
class Jobs:
    """Calls the ExecutionService as a given user; knows the session's test models."""

    mesh: Mesh
    prefix: str

    def model(self, suffix: str) -> str:
        return f"{self.prefix}.{suffix}"

    def stub(self) -> execution_pb2_grpc.ExecutionServiceStub:
        return execution_pb2_grpc.ExecutionServiceStub(self.mesh.channel("execution"))

    def submit(
        self,
        suffix: str,
        records: list[dict[str, Any]],
        *,
        user: str = "alice",
        key: str = "",
        version: str = "",
    ) -> job_pb2.Job:
        request = execution_pb2.SubmitJobRequest(
            model=self.model(suffix),
            version=version,
            records=[_struct(r) for r in records],
            idempotency_key=key,
        )
        return self.stub().SubmitJob(request, metadata=self.mesh.metadata(user), timeout=10).job

    def get(self, job_id: str, *, user: str = "alice") -> job_pb2.Job:
        return (
            self.stub()
            .GetJob(
                execution_pb2.GetJobRequest(id=job_id),
                metadata=self.mesh.metadata(user),
                timeout=10,
            )
            .job
        )

    def wait(self, job_id: str, *, user: str = "alice", timeout_s: float = 30.0) -> job_pb2.Job:
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id, user=user)
            if job.status in TERMINAL:
                return job
            assert time.monotonic() < deadline, (
                f"job {job_id} still {job_pb2.JobStatus.Name(job.status)}"
            )
            time.sleep(0.05)


def _struct(record: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(record)
    return message


def _register(
    mesh: Mesh, name: str, callable_: str, schema: dict[str, Any], extra: dict[str, Any]
) -> None:
    register_backend(mesh, name, "python", {"callable": callable_, **extra}, schema)


def register_backend(
    mesh: Mesh,
    name: str,
    kind: str,
    config: dict[str, Any],
    schema: dict[str, Any] = ANY,
    *,
    public: bool = True,
) -> None:
    """A model `name` (as a superuser) whose version 1.0.0 runs `kind` with `config`,
    public unless `public` is False."""
    su = mesh.metadata("root", superuser=True)
    registry = mesh.registry()
    registry.CreateModel(
        registry_pb2.CreateModelRequest(model=model_pb2.Model(name=name)), metadata=su
    )
    add_version(mesh, name, "1.0.0", kind, config, schema)
    if not public:
        return
    registry.SetVisibility(
        registry_pb2.SetVisibilityRequest(name=name, visibility=model_pb2.VISIBILITY_PUBLIC),
        metadata=su,
    )
    wait_visible_to_execution(mesh, name)


def add_version(
    mesh: Mesh,
    name: str,
    version: str,
    kind: str,
    config: dict[str, Any],
    schema: dict[str, Any] = ANY,
) -> None:
    """A version of model `name` (as a superuser) running `kind` with `config`."""
    message = model_pb2.ModelVersion(version=version)
    message.backend.kind = kind
    message.backend.config.update(config)
    message.input_schema.update(schema)
    mesh.registry().CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=name, version=message),
        metadata=mesh.metadata("root", superuser=True),
    )


def wait_visible_to_execution(mesh: Mesh, name: str, timeout_s: float = 5.0) -> None:
    """Grants reach other server processes by PostgreSQL NOTIFY, within milliseconds:
    wait for the execution server to see the new public model before submitting."""
    stub = execution_pb2_grpc.ExecutionServiceStub(mesh.channel("execution"))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            stub.ListJobs(
                execution_pb2.ListJobsRequest(model=name, page_size=1),
                metadata=mesh.metadata("alice"),
            )
            return
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def start_worker(
    mesh: Mesh, models: list[str], name: str, *, concurrency: int = 8
) -> subprocess.Popen[bytes]:
    args = ["worker", "--models", ",".join(models), "--concurrency", str(concurrency)]
    return spawn_modelgw(mesh, [*args, "--drain-grace", "2"], f"worker-{name}")


stop_worker = stop_process


@pytest.fixture(scope="session")
def jobs(mesh: Mesh) -> Iterator[Jobs]:
    helper = Jobs(mesh, f"t-{uuid.uuid4().hex[:8]}")
    for suffix, (callable_, schema, extra) in MODELS.items():
        _register(mesh, helper.model(suffix), callable_, schema, extra)
    served = [helper.model(s) for s in SERVED]
    workers = [start_worker(mesh, served, f"w{i}") for i in range(2)]
    try:
        yield helper
    finally:
        for worker in workers:
            stop_worker(worker)


def status_name(job: job_pb2.Job) -> str:
    return str(job_pb2.JobStatus.Name(job.status))


def rpc_error(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        call()
    return failure.value
