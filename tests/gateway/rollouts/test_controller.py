"""The rollout controller in the session's admin server (a tick every 0.2 s): it rolls
a breaching candidate back, steps a linear rollout, promotes a canary once its bake
and evidence are in, and every change reaches the audit outbox and the model's history with its actor."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from modelgateway.v1 import registry_pb2
from tests.harness import Fixture, Mesh

from .conftest import ACTIVE, CANARY, LINEAR, PROMOTED, ROLLED_BACK, Finish, R, start, wait_for

CONTROLLER = "modelgw-rollouts"


def audit_rows(mesh: Mesh, model: str) -> list[dict[str, Any]]:
    """The outbox's records of the model's rollouts, oldest first."""

    async def read() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(mesh.env["MODELGW_DATABASE_URL"])
        try:
            rows = await conn.fetch(
                "SELECT actor, operation, before::text AS before, after::text AS after"
                " FROM modelgw_audit.outbox WHERE subject = 'rollouts'"
                " AND COALESCE(after, before)->>'model' = $1 ORDER BY id",
                model,
            )
            return [dict(r) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


def default_version(mesh: Mesh, model: Fixture) -> str:
    request = registry_pb2.GetModelRequest(name=model.name)
    return mesh.registry().GetModel(request, metadata=mesh.metadata(model.owner)).model.default_version


def test_a_failing_candidate_is_rolled_back_with_its_figures(mesh: Mesh, rollout_model: Fixture, finish: Finish) -> None:
    rails = R.Guardrails(min_jobs=5, max_failure_rate_increase=0.1)
    started = start(mesh, rollout_model, CANARY, bake_seconds=3600, guardrails=rails)
    finish(rollout_model.name, "1.0.0", 20, failed=1)
    finish(rollout_model.name, "2.0.0", 4, failed=4)  # below min_jobs: not judged yet
    assert wait_for(mesh, rollout_model, lambda r: r.state != ACTIVE, timeout_s=1).state == ACTIVE
    finish(rollout_model.name, "2.0.0", 1, failed=1)
    back = wait_for(mesh, rollout_model, lambda r: r.state != ACTIVE)
    assert (back.id, back.state, back.candidate_percent, back.ended_by) == (started.id, ROLLED_BACK, 0, CONTROLLER)
    assert back.breach.guardrail == "max_failure_rate_increase"
    assert back.breach.observed == 0.95 and back.breach.limit == 0.1
    assert (back.breach.candidate.jobs, back.breach.candidate.failed_records) == (5, 5)
    assert (back.breach.baseline.jobs, back.breach.baseline.failure_rate) == (20, 0.05)
    assert "candidate 2.0.0 failed 100.0% of its records" in back.end_reason
    assert back.candidate.jobs == 5 and back.baseline.jobs == 20  # the figures at the end
    assert default_version(mesh, rollout_model) == "1.0.0"
    rows = audit_rows(mesh, rollout_model.name)
    assert [(r["actor"], r["operation"]) for r in rows] == [
        (rollout_model.owner, "INSERT"),
        (CONTROLLER, "UPDATE"),
    ]
    assert '"failed_records": 5' in rows[-1]["after"] and '"rolled_back"' in rows[-1]["after"]


def test_a_slow_candidate_is_rolled_back(mesh: Mesh, rollout_model: Fixture, finish: Finish) -> None:
    start(mesh, rollout_model, CANARY, guardrails=R.Guardrails(min_jobs=3, max_p95_ratio=2))
    finish(rollout_model.name, "1.0.0", 10, run_s=0.1)
    finish(rollout_model.name, "2.0.0", 3, run_s=0.5)
    back = wait_for(mesh, rollout_model, lambda r: r.state != ACTIVE)
    assert (back.state, back.breach.guardrail, back.breach.observed) == (ROLLED_BACK, "max_p95_ratio", 5.0)


def test_a_canary_promotes_itself_after_its_bake_and_evidence(mesh: Mesh, rollout_model: Fixture, finish: Finish) -> None:
    start(mesh, rollout_model, CANARY, bake_seconds=1, guardrails=R.Guardrails(min_jobs=1))
    waiting = wait_for(mesh, rollout_model, lambda r: "waits for guardrail evidence" in r.status)
    assert "0 of 1 finished jobs of the candidate" in waiting.status and waiting.state == ACTIVE
    finish(rollout_model.name, "2.0.0", 1)
    done = wait_for(mesh, rollout_model, lambda r: r.state != ACTIVE)
    assert (done.state, done.ended_by, done.candidate_percent) == (PROMOTED, CONTROLLER, 100)
    assert "no guardrail breached" in done.end_reason
    assert default_version(mesh, rollout_model) == "2.0.0"
    actors = [(r["actor"], r["operation"]) for r in audit_rows(mesh, rollout_model.name)]
    assert actors == [(rollout_model.owner, "INSERT"), (CONTROLLER, "UPDATE")]


def test_linear_steps_advance_then_promote(mesh: Mesh, rollout_model: Fixture, finish: Finish) -> None:
    start(mesh, rollout_model, LINEAR, step_percent=40, step_interval_seconds=1, guardrails=R.Guardrails(min_jobs=1))
    full = wait_for(mesh, rollout_model, lambda r: r.candidate_percent == 100, timeout_s=15)
    assert [s.percent for s in full.steps] == [40, 80, 100]
    assert [s.actor for s in full.steps[1:]] == [CONTROLLER, CONTROLLER]
    assert full.steps[1].note == "linear step to 80%" and full.state == ACTIVE
    finish(rollout_model.name, "2.0.0", 1)
    done = wait_for(mesh, rollout_model, lambda r: r.state != ACTIVE)
    assert done.state == PROMOTED and [s.percent for s in done.steps] == [40, 80, 100, 100]
    rows = audit_rows(mesh, rollout_model.name)
    assert [r["actor"] for r in rows] == [rollout_model.owner, CONTROLLER, CONTROLLER, CONTROLLER]
    assert default_version(mesh, rollout_model) == "2.0.0"
    history = registry_pb2.ListModelHistoryRequest(name=rollout_model.name, page_size=5)
    events = mesh.registry().ListModelHistory(history, metadata=mesh.metadata(rollout_model.owner)).events
    assert [(registry_pb2.ModelHistoryKind.Name(e.kind), e.actor, e.from_value, e.to_value, e.detail) for e in events] == [
        ("MODEL_HISTORY_KIND_ROLLOUT_PROMOTED", CONTROLLER, "1.0.0", "2.0.0", done.end_reason),
        ("MODEL_HISTORY_KIND_DEFAULT_VERSION", CONTROLLER, "1.0.0", "2.0.0", ""),
        ("MODEL_HISTORY_KIND_ROLLOUT_STEP", CONTROLLER, "80", "100", "linear step to 100%"),
        ("MODEL_HISTORY_KIND_ROLLOUT_STEP", CONTROLLER, "40", "80", "linear step to 80%"),
        ("MODEL_HISTORY_KIND_ROLLOUT_STARTED", rollout_model.owner, "1.0.0", "2.0.0", "linear"),
    ]
