"""Every role against every RolloutService RPC, as one table, shaped like
tests/gateway/test_access_matrix.py: owners and superusers may use all five; a
reader, or anyone on a public model, gets PERMISSION_DENIED; a stranger to a
private model gets NOT_FOUND, as does every stranger whose name spells a role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from modelgateway.v1 import model_pb2, registry_pb2, rollout_pb2_grpc
from tests.harness import matrix_cases

from .conftest import Fixture, Mesh, R, make_rollout_model, rollouts, start, su

OK, NF, PD = "OK", grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
ROLES = ("superuser", "owner", "reader", "stranger", "public")
OWNERS_ONLY = (OK, OK, PD, NF, PD)

Stub = rollout_pb2_grpc.RolloutServiceStub
Call = Callable[[Stub, Fixture, Any], Any]

# rpc -> (call, expected outcome per role in ROLES order)
MATRIX: dict[str, tuple[Call, tuple[Any, ...]]] = {
    "StartRollout": (
        lambda s, f, md: s.StartRollout(
            R.StartRolloutRequest(model=f.name, candidate_version="2.0.0", strategy=R.ROLLOUT_STRATEGY_CANARY),
            metadata=md,
        ),
        OWNERS_ONLY,
    ),
    "GetRollout": (lambda s, f, md: s.GetRollout(R.GetRolloutRequest(model=f.name), metadata=md), OWNERS_ONLY),
    "ListRollouts": (lambda s, f, md: s.ListRollouts(R.ListRolloutsRequest(model=f.name), metadata=md), OWNERS_ONLY),
    "PromoteRollout": (
        lambda s, f, md: s.PromoteRollout(R.PromoteRolloutRequest(model=f.name), metadata=md),
        OWNERS_ONLY,
    ),
    "RollBackRollout": (
        lambda s, f, md: s.RollBackRollout(R.RollBackRolloutRequest(model=f.name), metadata=md),
        OWNERS_ONLY,
    ),
}
CASES = matrix_cases(MATRIX, ROLES)
# What a successful call needs of its own model: none yet for a start, an active one
# to promote or roll back. Reads and every refusal share the module's models.
FRESH = {"StartRollout": False, "PromoteRollout": True, "RollBackRollout": True}


def _public(mesh: Mesh, model: Fixture) -> None:
    request = registry_pb2.SetVisibilityRequest(name=model.name, visibility=model_pb2.VISIBILITY_PUBLIC)
    mesh.registry().SetVisibility(request, metadata=su(mesh))


@pytest.fixture(scope="module")
def shared_models(mesh: Mesh) -> dict[str, Fixture]:
    """A private and a public model, each with an active rollout that stays active
    (a canary of ten minutes waiting for twenty jobs)."""
    models = {"private": make_rollout_model(mesh), "public": make_rollout_model(mesh)}
    _public(mesh, models["public"])
    for model in models.values():
        start(mesh, model)
    return models


def model_for(mesh: Mesh, request: pytest.FixtureRequest, rpc: str, role: str, expected: Any) -> Fixture:
    if expected == OK and rpc in FRESH:
        model = make_rollout_model(mesh)
        if FRESH[rpc]:
            start(mesh, model)
        return model
    shared: dict[str, Fixture] = request.getfixturevalue("shared_models")
    return shared["public" if role == "public" else "private"]


def caller_metadata(mesh: Mesh, model: Fixture, role: str) -> Any:
    if role == "superuser":
        return su(mesh)
    if role == "owner":
        return mesh.metadata(model.owner)
    if role == "reader":
        return mesh.metadata(model.reader)
    if role.startswith("named:"):
        return mesh.metadata(role.removeprefix("named:"))
    return mesh.metadata(f"stranger-{model.name}")


@pytest.mark.parametrize(("rpc", "role", "expected"), CASES)
def test_role_against_rpc(mesh: Mesh, request: pytest.FixtureRequest, rpc: str, role: str, expected: Any) -> None:
    call, _ = MATRIX[rpc]
    model = model_for(mesh, request, rpc, role, expected)
    metadata = caller_metadata(mesh, model, role)
    if expected == OK:
        call(rollouts(mesh), model, metadata)
        return
    with pytest.raises(grpc.RpcError) as failure:
        call(rollouts(mesh), model, metadata)
    assert failure.value.code() == expected, failure.value.details()
    if expected == NF:
        assert model.name in failure.value.details()


def test_a_refused_caller_changed_nothing(mesh: Mesh, shared_models: dict[str, Fixture]) -> None:
    for model in shared_models.values():
        rollout = rollouts(mesh).GetRollout(R.GetRolloutRequest(model=model.name), metadata=su(mesh)).rollout
        assert rollout.state == R.ROLLOUT_STATE_ACTIVE and len(rollout.steps) == 1


def test_every_rpc_is_in_the_matrix() -> None:
    methods = R.DESCRIPTOR.services_by_name["RolloutService"].methods_by_name
    assert set(MATRIX) == set(methods)
