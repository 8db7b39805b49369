"""SubmitJob runs what the registry says, though the execution server caches it:
a registry change reaches the execution server's resolution cache by NOTIFY at once, and
MODELGW_RESOLUTION_CACHE bounds how stale it can be when a notification is lost
(tests/gateway/execution/test_version_resolution.py holds that part)."""

from __future__ import annotations

import time
from typing import Any

import grpc

from modelgateway.v1 import execution_pb2, job_pb2, model_pb2, registry_pb2
from tests.gateway.execution.conftest import Jobs, _register, _struct, rpc_error

# The ~100 ms a NOTIFY may take to reach the execution server's process.
NOTIFY_ALLOWANCE_S = 0.1


def _version(number: str, schema: dict[str, Any]) -> model_pb2.ModelVersion:
    version = model_pb2.ModelVersion(version=number)
    version.backend.kind = "python"
    version.backend.config.update({"callable": "workers.builtin.demo:echo"})
    version.input_schema.update(schema)
    return version


def _submit_as_superuser(
    jobs: Jobs, model: str, record: dict[str, Any], version: str = ""
) -> job_pb2.Job:
    request = execution_pb2.SubmitJobRequest(
        model=model, version=version, records=[_struct(record)]
    )
    su = jobs.mesh.metadata("root", superuser=True)
    return jobs.stub().SubmitJob(request, metadata=su, timeout=10).job


def test_a_new_default_version_runs_from_the_next_submission(jobs: Jobs) -> None:
    name = jobs.model("moving-default")
    _register(jobs.mesh, name, "workers.builtin.demo:echo", {"type": "object"}, {})
    su = jobs.mesh.metadata("root", superuser=True)
    registry = jobs.mesh.registry()
    suffix = "moving-default"
    assert jobs.submit(suffix, [{"x": 1}]).version == "1.0.0"  # now cached

    registry.CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(
            model=name, version=_version("2.0.0", {"type": "object"})
        ),
        metadata=su,
    )
    registry.SetDefaultVersion(
        registry_pb2.SetDefaultVersionRequest(name=name, version="2.0.0"), metadata=su
    )
    changed = time.monotonic()
    bound = jobs.mesh.config.resolution_cache_s + 0.5
    seen: list[tuple[float, str]] = []
    while time.monotonic() - changed < bound:
        seen.append((time.monotonic() - changed, jobs.submit(suffix, [{"x": 1}]).version))
        time.sleep(0.02)
    late = [version for at, version in seen if at >= NOTIFY_ALLOWANCE_S]
    assert late and set(late) == {"2.0.0"}, seen
    # Naming a version bypasses the resolution altogether.
    assert jobs.submit(suffix, [{"x": 1}], version="1.0.0").version == "1.0.0"


def test_a_deleted_model_s_versions_no_longer_run(jobs: Jobs) -> None:
    name = jobs.model("deleted")
    _register(jobs.mesh, name, "workers.builtin.demo:echo", {"type": "object"}, {})
    su = jobs.mesh.metadata("root", superuser=True)
    assert _submit_as_superuser(jobs, name, {"x": 1}, "1.0.0").version == "1.0.0"
    assert _submit_as_superuser(jobs, name, {"x": 1}).version == "1.0.0"

    jobs.mesh.registry().DeleteModel(registry_pb2.DeleteModelRequest(name=name), metadata=su)
    time.sleep(NOTIFY_ALLOWANCE_S)
    for version in ("1.0.0", ""):
        error = rpc_error(lambda v=version: _submit_as_superuser(jobs, name, {"x": 1}, v))
        assert error.code() == grpc.StatusCode.NOT_FOUND, (version, error.details())


def test_a_recreated_version_is_checked_against_its_new_schema(jobs: Jobs) -> None:
    name = jobs.model("recreated")
    needs_n = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    needs_s = {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]}
    _register(jobs.mesh, name, "workers.builtin.demo:echo", needs_n, {})
    su = jobs.mesh.metadata("root", superuser=True)
    registry = jobs.mesh.registry()
    assert _submit_as_superuser(jobs, name, {"n": 1}, "1.0.0").version == "1.0.0"
    assert _submit_as_superuser(jobs, name, {"n": 1}).version == "1.0.0"

    registry.DeleteModel(registry_pb2.DeleteModelRequest(name=name), metadata=su)
    registry.CreateModel(
        registry_pb2.CreateModelRequest(model=model_pb2.Model(name=name)), metadata=su
    )
    registry.CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=name, version=_version("1.0.0", needs_s)),
        metadata=su,
    )
    time.sleep(NOTIFY_ALLOWANCE_S)
    for version in ("1.0.0", ""):
        assert _submit_as_superuser(jobs, name, {"s": "x"}, version).version == "1.0.0"
        error = rpc_error(lambda v=version: _submit_as_superuser(jobs, name, {"n": 1}, v))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (version, error.details())
