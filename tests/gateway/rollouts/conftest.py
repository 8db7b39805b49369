"""Fixtures of the rollout tests: a model whose default is 1.0.0 (the baseline) with a
2.0.0 to roll out, the RolloutService stub on the admin server, and a stand-in for
the job statistics source (the versions' finished indexes the workers write)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
import redis

from modelgateway.v1 import registry_pb2, rollout_pb2, rollout_pb2_grpc
from scheduler import keys
from tests.gateway.conftest import Fixture, create_model
from tests.harness import Mesh

R = rollout_pb2
CANARY, LINEAR, BLUE_GREEN = (
    R.ROLLOUT_STRATEGY_CANARY,
    R.ROLLOUT_STRATEGY_LINEAR,
    R.ROLLOUT_STRATEGY_BLUE_GREEN,
)
ACTIVE, PROMOTED, ROLLED_BACK = (
    R.ROLLOUT_STATE_ACTIVE,
    R.ROLLOUT_STATE_PROMOTED,
    R.ROLLOUT_STATE_ROLLED_BACK,
)
Finish = Callable[..., None]


def rollouts(mesh: Mesh) -> rollout_pb2_grpc.RolloutServiceStub:
    return rollout_pb2_grpc.RolloutServiceStub(mesh.channel("admin"))


def su(mesh: Mesh) -> tuple[tuple[str, str], ...]:
    return mesh.metadata("root", superuser=True)


def make_rollout_model(mesh: Mesh) -> Fixture:
    """create_model's model (1.0.0, 2.0.0, an owner, a reader) with 1.0.0 as default."""
    model = create_model(mesh)
    mesh.registry().SetDefaultVersion(
        registry_pb2.SetDefaultVersionRequest(name=model.name, version="1.0.0"), metadata=su(mesh)
    )
    return model


@pytest.fixture
def rollout_model(mesh: Mesh) -> Fixture:
    return make_rollout_model(mesh)


def start(mesh: Mesh, model: Fixture, strategy: int = CANARY, **fields: object) -> R.Rollout:
    """StartRollout of 2.0.0 as the model's owner; fields go into the request."""
    request = R.StartRolloutRequest(
        model=model.name, candidate_version="2.0.0", strategy=strategy, **fields
    )
    return rollouts(mesh).StartRollout(request, metadata=mesh.metadata(model.owner)).rollout


def get(mesh: Mesh, model: Fixture, rollout_id: str = "") -> R.Rollout:
    request = R.GetRolloutRequest(model=model.name, rollout_id=rollout_id)
    return rollouts(mesh).GetRollout(request, metadata=mesh.metadata(model.owner)).rollout


def wait_for(mesh: Mesh, model: Fixture, done: Callable[[R.Rollout], bool], timeout_s: float = 10.0) -> R.Rollout:
    """GetRollout until `done` holds of the rollout (the controller ticks every 0.2 s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rollout = get(mesh, model)
        if done(rollout) or time.monotonic() > deadline:
            return rollout
        time.sleep(0.1)


@pytest.fixture
def finish(mesh: Mesh) -> Finish:
    """finish(model, version, jobs, failed=0, run_s=0.1): that many one-record jobs of
    the version finished just now, written where the workers write them
    (scheduler.keys.version_finished) — the statistics source, not the system under test."""
    client = redis.Redis.from_url(mesh.env["MODELGW_REDIS_URL"], decode_responses=True)

    def write(model: str, version: str, jobs: int, failed: int = 0, run_s: float = 0.1) -> None:
        now = time.time()
        members = {
            f"{uuid.uuid4()}|{'FAILED' if i < failed else 'SUCCEEDED'}|{run_s}|0.0|{int(i < failed)}|1": now
            for i in range(jobs)
        }
        client.zadd(keys.version_finished(model, version), members)

    return write
