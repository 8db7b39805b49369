"""RolloutService over REST through the real Envoy, with curl as a user would call it."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.gateway.rollouts.conftest import make_rollout_model

from .conftest import Edge

pytestmark = pytest.mark.usefixtures("edge")


def _curl(*args: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    text, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(text)


def test_start_get_and_roll_back_over_curl(edge: Edge) -> None:
    model = make_rollout_model(edge.mesh)
    owner = f"authorization: Bearer {edge.mesh.token(model.owner)}"
    body = {
        "candidate_version": "2.0.0",
        "strategy": "ROLLOUT_STRATEGY_LINEAR",
        "step_percent": 20,
        "step_interval_seconds": 3600,
        "guardrails": {"min_jobs": 5, "max_p95_ratio": 0},
    }
    url = f"{edge.url}/v1/models/{model.name}"
    status, started = _curl("-H", owner, "-H", "content-type: application/json", "-d", json.dumps(body), f"{url}/rollouts")
    assert status == 200, started
    rollout = started["rollout"]
    assert (rollout["state"], rollout["candidate_percent"]) == ("ROLLOUT_STATE_ACTIVE", 20)
    assert rollout["plan"]["guardrails"] == {"min_jobs": 5, "max_failure_rate_increase": 0.05, "max_p95_ratio": 0}
    status, got = _curl("-H", owner, f"{url}/rollout")
    assert status == 200, got
    assert got["rollout"]["id"] == rollout["id"]
    assert got["rollout"]["candidate"]["version"] == "2.0.0"
    status, again = _curl("-H", owner, f"{url}/rollout?rollout_id={rollout['id']}")
    assert (status, again["rollout"]["id"]) == (200, rollout["id"])
    status, clash = _curl("-H", owner, "-H", "content-type: application/json", "-d", json.dumps(body), f"{url}/rollouts")
    assert (status, clash["code"]) == (409, 6) and rollout["id"] in str(clash["message"])
    status, back = _curl("-H", owner, "-H", "content-type: application/json", "-d", '{"reason": "by curl"}', f"{url}/rollout:rollBack")
    assert (status, back["rollout"]["state"], back["rollout"]["end_reason"]) == (200, "ROLLOUT_STATE_ROLLED_BACK", "by curl")


def test_rest_errors_map_to_http_statuses(edge: Edge) -> None:
    model = make_rollout_model(edge.mesh)
    path = f"/v1/models/{model.name}"
    bad = {"candidate_version": "2.0.0", "strategy": "ROLLOUT_STRATEGY_CANARY", "canary_percent": 0}
    status, body = edge.call("POST", f"{path}/rollouts", bad, headers=edge.bearer(model.owner))
    assert (status, body["code"]) == (400, 3) and "canary_percent" in body["message"]
    status, body = edge.call("GET", f"{path}/rollouts", headers=edge.bearer(model.reader))
    assert (status, body["code"]) == (403, 7)
    status, body = edge.call("GET", f"{path}/rollout", headers=edge.bearer("a-stranger"))
    assert (status, body["code"]) == (404, 5)
    status, body = edge.call("POST", f"{path}/rollout:promote", {}, headers=edge.bearer(model.owner))
    assert (status, body["code"]) == (400, 9)
    status, body = edge.call("GET", f"{path}/rollouts?page_size=1", headers=edge.bearer(model.owner))
    assert (status, body) == (200, {"rollouts": [], "next_page_token": ""})
