"""StartRollout, GetRollout, ListRollouts, PromoteRollout and RollBackRollout against
the session's admin server, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from modelgateway.v1 import registry_pb2, rollout_pb2_grpc
from tests.gateway.registry._calls import expect
from tests.harness import Fixture, Mesh

from .conftest import (
    ACTIVE,
    CANARY,
    LINEAR,
    PROMOTED,
    ROLLED_BACK,
    Finish,
    R,
    get,
    rollouts,
    start,
    su,
)

FP = grpc.StatusCode.FAILED_PRECONDITION


def test_start_and_get_a_canary(mesh: Mesh, rollout_model: Fixture, finish: Finish) -> None:
    started = start(mesh, rollout_model, CANARY, canary_percent=25)
    assert (started.baseline_version, started.candidate_version) == ("1.0.0", "2.0.0")
    assert (started.state, started.candidate_percent) == (ACTIVE, 25)
    assert started.plan.bake_seconds == 600 and started.plan.guardrails.min_jobs == 20
    assert started.started_by == rollout_model.owner
    assert [(s.percent, s.actor, s.note) for s in started.steps] == [(25, rollout_model.owner, "started")]
    assert "25% of the traffic" in started.status and "promotion is due at" in started.status
    finish(rollout_model.name, "1.0.0", 4, failed=1)
    finish(rollout_model.name, "2.0.0", 2)
    got = get(mesh, rollout_model)
    assert got.id == started.id
    assert (got.baseline.jobs, got.baseline.failed_jobs, got.baseline.failure_rate) == (4, 1, 0.25)
    assert (got.candidate.version, got.candidate.jobs, got.candidate.p95_run_seconds) == ("2.0.0", 2, 0.1)
    assert get(mesh, rollout_model, started.id).id == started.id


def test_promote_makes_the_candidate_the_default(mesh: Mesh, rollout_model: Fixture) -> None:
    started = start(mesh, rollout_model, LINEAR, step_interval_seconds=3600)
    owner = mesh.metadata(rollout_model.owner)
    promoted = rollouts(mesh).PromoteRollout(R.PromoteRolloutRequest(model=rollout_model.name), metadata=owner).rollout
    assert (promoted.id, promoted.state, promoted.candidate_percent) == (started.id, PROMOTED, 100)
    assert promoted.ended_by == rollout_model.owner and promoted.HasField("end_time")
    assert "2.0.0 is the default version" in promoted.status
    model = mesh.registry().GetModel(registry_pb2.GetModelRequest(name=rollout_model.name), metadata=owner)
    assert model.model.default_version == "2.0.0"
    expect(FP, lambda: rollouts(mesh).PromoteRollout(R.PromoteRolloutRequest(model=rollout_model.name), metadata=owner), "no active rollout")


def test_roll_back_keeps_the_default_and_records_why(mesh: Mesh, rollout_model: Fixture) -> None:
    start(mesh, rollout_model)
    owner = mesh.metadata(rollout_model.owner)
    request = R.RollBackRolloutRequest(model=rollout_model.name, reason="latency on the dashboard")
    back = rollouts(mesh).RollBackRollout(request, metadata=owner).rollout
    assert (back.state, back.candidate_percent, back.end_reason) == (ROLLED_BACK, 0, "latency on the dashboard")
    assert back.steps[-1].percent == 0 and back.steps[-1].actor == rollout_model.owner
    assert not back.HasField("breach")
    model = mesh.registry().GetModel(registry_pb2.GetModelRequest(name=rollout_model.name), metadata=owner)
    assert model.model.default_version == "1.0.0"
    expect(FP, lambda: rollouts(mesh).RollBackRollout(request, metadata=owner), "no active rollout")
    # The ended rollout is still what GetRollout shows, and a new one may start.
    assert get(mesh, rollout_model).id == back.id
    assert start(mesh, rollout_model).state == ACTIVE


def test_list_is_newest_first_in_pages(mesh: Mesh, rollout_model: Fixture) -> None:
    owner = mesh.metadata(rollout_model.owner)
    ids = []
    for _ in range(3):
        ids.append(start(mesh, rollout_model).id)
        rollouts(mesh).RollBackRollout(R.RollBackRolloutRequest(model=rollout_model.name), metadata=owner)
    first = rollouts(mesh).ListRollouts(R.ListRolloutsRequest(model=rollout_model.name, page_size=2), metadata=owner)
    second = rollouts(mesh).ListRollouts(
        R.ListRolloutsRequest(model=rollout_model.name, page_size=2, page_token=first.next_page_token), metadata=owner
    )
    assert [r.id for r in first.rollouts] + [r.id for r in second.rollouts] == ids[::-1]
    assert second.next_page_token == ""
    assert all(r.end_reason == "rolled back by hand" for r in first.rollouts)


def test_concurrent_starts_have_exactly_one_winner(mesh: Mesh, rollout_model: Fixture) -> None:
    metadata = mesh.metadata(rollout_model.owner)
    request = R.StartRolloutRequest(model=rollout_model.name, candidate_version="2.0.0", strategy=CANARY)

    async def both() -> list[object]:
        async with grpc.aio.insecure_channel(mesh.addresses["admin"]) as channel:
            stub = rollout_pb2_grpc.RolloutServiceStub(channel)
            calls = [stub.StartRollout(request, metadata=metadata) for _ in range(2)]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    outcomes = asyncio.run(both())
    won = [o for o in outcomes if isinstance(o, R.StartRolloutResponse)]
    lost = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert lost[0].code() == grpc.StatusCode.ALREADY_EXISTS
    assert won[0].rollout.id in lost[0].details()


def test_default_version_and_model_deletion_wait_for_the_rollout(mesh: Mesh, rollout_model: Fixture) -> None:
    start(mesh, rollout_model)
    registry = mesh.registry()
    change = registry_pb2.SetDefaultVersionRequest(name=rollout_model.name, version="2.0.0")
    words = (f"model {rollout_model.name} has an active rollout", "promote or roll it back first")
    expect(FP, lambda: registry.SetDefaultVersion(change, metadata=su(mesh)), *words)
    delete = registry_pb2.DeleteModelRequest(name=rollout_model.name)
    expect(FP, lambda: registry.DeleteModel(delete, metadata=su(mesh)), *words)
    rollouts(mesh).RollBackRollout(R.RollBackRolloutRequest(model=rollout_model.name), metadata=su(mesh))
    assert registry.SetDefaultVersion(change, metadata=su(mesh)).model.default_version == "2.0.0"


def test_the_database_refuses_to_delete_a_version_in_a_rollout(mesh: Mesh, rollout_model: Fixture) -> None:
    import asyncpg

    start(mesh, rollout_model)

    async def delete() -> None:
        conn = await asyncpg.connect(mesh.env["MODELGW_DATABASE_URL"])
        try:
            await conn.execute("DELETE FROM model_versions WHERE model = $1 AND version = '2.0.0'", rollout_model.name)
        finally:
            await conn.close()

    with pytest.raises(asyncpg.PostgresError) as refused:
        asyncio.run(delete())
    assert refused.value.sqlstate == "MGR01" and "promote or roll it back first" in str(refused.value)


def test_get_and_list_of_a_model_without_rollouts(mesh: Mesh, rollout_model: Fixture) -> None:
    expect(grpc.StatusCode.NOT_FOUND, lambda: get(mesh, rollout_model), "has had no rollouts")
    expect(grpc.StatusCode.INVALID_ARGUMENT, lambda: get(mesh, rollout_model, "not-a-uuid"), "not a UUID")
    expect(grpc.StatusCode.NOT_FOUND, lambda: get(mesh, rollout_model, "00000000-0000-0000-0000-000000000000"))
    page = rollouts(mesh).ListRollouts(R.ListRolloutsRequest(model=rollout_model.name), metadata=su(mesh))
    assert list(page.rollouts) == []
    expect(grpc.StatusCode.NOT_FOUND, lambda: rollouts(mesh).ListRollouts(R.ListRolloutsRequest(model="no.such-model"), metadata=su(mesh)))
