"""A model's own admission limits at submission: an owner's change reaches an
execution server on the registry's NOTIFY (its resolution cache is set to an
hour, so nothing else could bring it), the refusal names the limit and whose it
is, and the records waiting are counted exactly as workers take the jobs.

The execution server runs on its own, against the session's PostgreSQL and
Redis, like tests/gateway/execution/test_admission.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
import redis
from google.protobuf import field_mask_pb2, struct_pb2

from modelgateway.v1 import execution_pb2, execution_pb2_grpc, model_pb2, registry_pb2
from scheduler import keys
from tests.harness import Mesh, own_servers, unique_name

from .conftest import TERMINAL, register_backend, start_worker, stop_worker
from .test_admission import _retry_delay

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.fixture(scope="module")
def cached(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    home: Path = tmp_path_factory.mktemp("model-limits")
    with own_servers(mesh, home, ("execution",), MODELGW_RESOLUTION_CACHE="3600") as own:
        yield own


def _stub(own: Mesh) -> execution_pb2_grpc.ExecutionServiceStub:
    return execution_pb2_grpc.ExecutionServiceStub(own.channel("execution"))


def _submit(own: Mesh, model: str, user: str = "ann", records: int = 1) -> str:
    record = struct_pb2.Struct()
    record.update({"n": 1})
    request = execution_pb2.SubmitJobRequest(model=model, records=[record] * records)
    return str(_stub(own).SubmitJob(request, metadata=own.metadata(user), timeout=10).job.id)


def _owned_model(mesh: Mesh) -> tuple[str, str]:
    """A public model no worker serves yet (its jobs stay queued), and its owner."""
    name = unique_name("lim")
    register_backend(mesh, name, "python", {"callable": "workers.builtin.demo:echo"})
    owner = f"owner-{name}"
    mesh.registry().GrantAccess(
        registry_pb2.GrantAccessRequest(name=name, user=owner, role=model_pb2.ACCESS_ROLE_OWNER),
        metadata=mesh.metadata("root", superuser=True),
    )
    return name, owner


def _set_limits(mesh: Mesh, model: str, owner: str, **limits: float) -> None:
    mesh.registry().UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=model_pb2.Model(name=model, limits=model_pb2.ModelLimits(**limits)),
            update_mask=field_mask_pb2.FieldMask(paths=[f"limits.{f}" for f in limits]),
        ),
        metadata=mesh.metadata(owner),
    )


def _refusal(submit: Callable[[], str], timeout_s: float = 5.0) -> grpc.RpcError:
    """The first refusal of repeated submissions: the change travels by NOTIFY,
    which the server hears within milliseconds, though not before the reply."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            submit()
        except grpc.RpcError as error:
            return error
        assert time.monotonic() < deadline, "the new limit never took effect"
        time.sleep(0.05)


def test_an_owner_lowers_the_queue_cap_of_their_model(mesh: Mesh, cached: Mesh) -> None:
    model, owner = _owned_model(mesh)
    other, _ = _owned_model(mesh)
    for _ in range(3):
        _submit(cached, model)  # read into the server's resolution cache with the platform's limits
    _set_limits(mesh, model, owner, max_queued_jobs=3)
    refused = _refusal(lambda: _submit(cached, model))
    assert refused.code() == EXHAUSTED, refused.details()
    assert "the most the model's own limit (limits.max_queued_jobs = 3) allows" in refused.details()
    assert "retry in 5 s" in refused.details() and _retry_delay(refused) == 5.0
    _submit(cached, other)  # another model keeps the platform's limits


def test_waiting_records_are_limited_and_counted_back(mesh: Mesh, cached: Mesh, redis_url: str) -> None:
    model, owner = _owned_model(mesh)
    _set_limits(mesh, model, owner, max_queued_records=10)  # before the server first reads it
    _submit(cached, model, records=6)
    with pytest.raises(grpc.RpcError) as failure:
        _submit(cached, model, records=5)
    refused = failure.value
    assert refused.code() == EXHAUSTED, refused.details()
    assert f"model {model!r} has 6 records waiting and this job carries 5" in refused.details()
    assert "(limits.max_queued_records = 10)" in refused.details()
    with pytest.raises(grpc.RpcError) as alone:
        _submit(cached, model, records=11)
    assert alone.value.code() == grpc.StatusCode.INVALID_ARGUMENT, alone.value.details()
    assert "this job carries 11: split it" in alone.value.details()

    last = _submit(cached, model, records=4)  # exactly 10 waiting
    _stub(cached).CancelJob(execution_pb2.CancelJobRequest(id=last), metadata=cached.metadata("ann"))
    _submit(cached, model, records=4)  # the cancelled job's records were given back
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        worker = start_worker(mesh, [model], unique_name("drain"))
        try:
            _wait_drained(client, model)
            assert client.hget(keys.counts(model), "QUEUED_RECORDS") == "0"
            assert client.hlen(keys.waiting(model)) == 0
            job = _submit(cached, model, records=10)  # the whole limit again
            _wait_finished(cached, job)
        finally:
            stop_worker(worker)


def test_an_owner_gives_each_user_a_rate_on_their_model(mesh: Mesh, cached: Mesh) -> None:
    model, owner = _owned_model(mesh)
    _submit(cached, model, user="first")
    _set_limits(mesh, model, owner, user_jobs_per_second=0.5)  # bursts of 1
    refused = _refusal(lambda: _submit(cached, model, user="busy"))
    assert refused.code() == EXHAUSTED, refused.details()
    assert f"you are submitting to model {model!r} more than 0.5 jobs a second" in refused.details()
    assert "the model's own limit (limits.user_jobs_per_second = 0.5) for each user" in refused.details()
    assert 0 < _retry_delay(refused) <= 2.0
    _submit(cached, model, user="another")  # each user has a bucket of their own
    other, _ = _owned_model(mesh)
    _submit(cached, other, user="busy")  # and only on this model


def _wait_drained(client: redis.Redis, model: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.hget(keys.counts(model), "QUEUED") != "0":
        assert time.monotonic() < deadline, f"{model}'s queue never drained"
        time.sleep(0.05)


def _wait_finished(own: Mesh, job_id: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    request = execution_pb2.GetJobRequest(id=job_id)
    while _stub(own).GetJob(request, metadata=own.metadata("ann")).job.status not in TERMINAL:
        assert time.monotonic() < deadline, f"job {job_id} never finished"
        time.sleep(0.05)
