"""Admission limits: one user's flood is refused with RESOURCE_EXHAUSTED and a
retry delay, while another user submits normally; a model's queue has a cap; a
full Redis is RESOURCE_EXHAUSTED, never INTERNAL.

An execution server of its own runs with low limits, against the session's
PostgreSQL and Redis (so its counters are the real ones).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from modelgateway.v1 import execution_pb2, execution_pb2_grpc
from tests.harness import Mesh, own_servers, unique_name

from .conftest import register_backend

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
LIMITS = {
    "MODELGW_USER_JOBS_PER_SECOND": "5",
    "MODELGW_USER_JOBS_BURST": "20",
    "MODELGW_USER_RECORDS_PER_SECOND": "100",
    "MODELGW_USER_RECORDS_BURST": "200",
    "MODELGW_MAX_RECORDS": "200",
    "MODELGW_MODEL_MAX_QUEUED": "60",
}


@pytest.fixture(scope="module")
def limited(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    home: Path = tmp_path_factory.mktemp("limited")
    with own_servers(mesh, home, ("execution",), **LIMITS) as own:
        yield own


def _submit(own: Mesh, model: str, user: str, records: int = 1) -> execution_pb2.SubmitJobResponse:
    record = struct_pb2.Struct()
    record.update({"n": 1})
    stub = execution_pb2_grpc.ExecutionServiceStub(own.channel("execution"))
    request = execution_pb2.SubmitJobRequest(model=model, records=[record] * records)
    return stub.SubmitJob(request, metadata=own.metadata(user), timeout=10)


def _retry_delay(error: grpc.RpcError) -> float:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no google.rpc.Status in the trailers"
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToTimedelta().total_seconds()
    raise AssertionError("no RetryInfo among the details")


def _model(mesh: Mesh) -> str:
    name = unique_name("adm")  # no worker serves it: its jobs stay queued
    register_backend(mesh, name, "python", {"callable": "workers.builtin.demo:echo"})
    return name


def test_a_flood_is_refused_while_another_user_submits(mesh: Mesh, limited: Mesh) -> None:
    model, flooder = _model(mesh), unique_name("flood")
    accepted = refused = 0
    first_refusal: grpc.RpcError | None = None
    for _ in range(40):
        try:
            _submit(limited, model, flooder)
            accepted += 1
        except grpc.RpcError as error:
            assert error.code() == EXHAUSTED, error.details()
            refused += 1
            first_refusal = first_refusal or error
    # The burst of 20 and what 5/s refill while the loop runs; the rest refused.
    assert 20 <= accepted <= 30 and refused >= 10
    assert first_refusal is not None
    assert "5 jobs a second" in first_refusal.details()
    assert "the platform's limit for each user (MODELGW_USER_JOBS_PER_SECOND)" in first_refusal.details()
    assert 0 < _retry_delay(first_refusal) <= 1.0
    assert ("retry-after", "1") in tuple(first_refusal.trailing_metadata() or ())
    # Another user is unaffected, and the flooder is admitted again after the delay.
    _submit(limited, model, unique_name("bystander"))
    time.sleep(0.3)
    _submit(limited, model, flooder)


def test_records_are_limited_too(mesh: Mesh, limited: Mesh) -> None:
    model, user = _model(mesh), unique_name("records")
    _submit(limited, model, user, records=150)
    with pytest.raises(grpc.RpcError) as failure:
        _submit(limited, model, user, records=150)
    assert failure.value.code() == EXHAUSTED and "100 records a second" in failure.value.details()
    assert 0.5 < _retry_delay(failure.value) <= 1.5


def test_a_models_queue_has_a_cap(mesh: Mesh, limited: Mesh) -> None:
    model = _model(mesh)
    for i in range(60):
        _submit(limited, model, f"{unique_name('fill')}-{i}")  # each user under their rate
    with pytest.raises(grpc.RpcError) as failure:
        _submit(limited, model, unique_name("late"))
    assert failure.value.code() == EXHAUSTED
    assert "60 jobs waiting" in failure.value.details()
    assert "the platform's default (MODELGW_MODEL_MAX_QUEUED = 60)" in failure.value.details()
    _submit(limited, _model(mesh), unique_name("other-model"))  # other models unaffected


def test_a_full_redis_is_resource_exhausted(mesh: Mesh, limited: Mesh, redis_url: str) -> None:
    model = _model(mesh)
    with redis.Redis.from_url(redis_url) as client:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", str(used // 2))
        try:
            with pytest.raises(grpc.RpcError) as failure:
                _submit(limited, model, unique_name("full"))
        finally:
            client.config_set("maxmemory", "0")
    assert failure.value.code() == EXHAUSTED, failure.value.details()
    assert "full" in failure.value.details()
    _submit(limited, model, unique_name("after"))


def test_a_batch_past_a_limit_is_refused_job_by_job(mesh: Mesh, limited: Mesh) -> None:
    model, user, other = _model(mesh), unique_name("batch"), _model(mesh)
    record = struct_pb2.Struct()
    record.update({"n": 1})
    stub = execution_pb2_grpc.ExecutionServiceStub(limited.channel("execution"))
    jobs = [execution_pb2.SubmitJobRequest(model=(model, other)[i % 2], records=[record]) for i in range(30)]
    results = stub.SubmitJobs(
        execution_pb2.SubmitJobsRequest(jobs=jobs), metadata=limited.metadata(user), timeout=10
    ).results
    outcomes = [r.WhichOneof("outcome") for r in results]
    # The user's burst of 20 across both models; the rest refused each with SubmitJob's answer.
    assert outcomes.count("job") == 20 and outcomes.count("error") == 10
    refused = next(r.error for r in results if r.HasField("error"))
    assert refused.code == EXHAUSTED.value[0] and "5 jobs a second" in refused.message
    info = error_details_pb2.RetryInfo()
    assert refused.details[0].Unpack(info) and 0 < info.retry_delay.ToTimedelta().total_seconds() <= 1
    with pytest.raises(grpc.RpcError) as failure:
        _submit(limited, model, user)  # SubmitJob now says the same
    assert failure.value.code() == EXHAUSTED and "5 jobs a second" in failure.value.details()
