"""StartRollout refuses what it cannot run, naming the field and what to send instead."""

from __future__ import annotations

import grpc
import pytest

from tests.gateway.registry._calls import expect
from tests.harness import Fixture, Mesh

from .conftest import BLUE_GREEN, CANARY, LINEAR, R, make_rollout_model, rollouts

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def shared(mesh: Mesh) -> Fixture:
    # Every case is refused, so none starts a rollout: one model serves them all.
    return make_rollout_model(mesh)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"strategy": 0}, ("strategy is required",)),
        ({"candidate_version": ""}, ("candidate_version is required",)),
        ({"candidate_version": "9.9.9"}, ("no version '9.9.9'", "CreateModelVersion")),
        ({"candidate_version": "1.0.0"}, ("what model", "now (its default version)")),
        ({"canary_percent": 0}, ("canary_percent 0 is out of range",)),
        ({"canary_percent": 101}, ("canary_percent 101",)),
        ({"bake_seconds": 0}, ("bake_seconds must be at least 1 for a canary",)),
        ({"bake_seconds": 604801}, ("bake_seconds 604801 is out of range", "7 days")),
        ({"step_percent": 10}, ("step_percent does not apply to the canary strategy",)),
        ({"strategy": LINEAR, "step_interval_seconds": 0}, ("step_interval_seconds 0 is out of range",)),
        ({"strategy": LINEAR, "step_percent": 150}, ("step_percent 150",)),
        ({"strategy": BLUE_GREEN, "bake_seconds": -1}, ("bake_seconds -1",)),
        ({"guardrails": R.Guardrails(min_jobs=0)}, ("guardrails.min_jobs 0 is out of range",)),
        ({"guardrails": R.Guardrails(min_jobs=1_000_001)}, ("guardrails.min_jobs",)),
        ({"guardrails": R.Guardrails(max_failure_rate_increase=2)}, ("guardrails.max_failure_rate_increase",)),
        ({"guardrails": R.Guardrails(max_p95_ratio=0.5)}, ("guardrails.max_p95_ratio", "0 to turn")),
        ({"canary_percent": float("nan")}, ("canary_percent nan",)),
    ],
)
def test_bad_requests_say_what_to_fix(mesh: Mesh, shared: Fixture, fields: dict[str, object], words: tuple[str, ...]) -> None:
    request = R.StartRolloutRequest(model=shared.name, candidate_version="2.0.0", strategy=CANARY)
    for name, value in fields.items():
        if isinstance(value, R.Guardrails):
            request.guardrails.CopyFrom(value)
        else:
            setattr(request, name, value)
    owner = mesh.metadata(shared.owner)
    expect(INVALID, lambda: rollouts(mesh).StartRollout(request, metadata=owner), *words)


def test_the_latest_version_as_baseline_is_named(mesh: Mesh, model: Fixture) -> None:
    # No default version: the baseline is the latest, 2.0.0, so 2.0.0 has nothing to replace.
    request = R.StartRolloutRequest(model=model.name, candidate_version="2.0.0", strategy=CANARY)
    owner = mesh.metadata(model.owner)
    expect(INVALID, lambda: rollouts(mesh).StartRollout(request, metadata=owner), "its latest version", "SetDefaultVersion")
