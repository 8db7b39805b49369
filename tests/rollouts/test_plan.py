"""The plans of the three strategies and their schedules. No servers."""

from __future__ import annotations

import pytest

from rollouts.errors import PlanError
from rollouts.guardrails import Guardrails
from rollouts.plan import MAX_SECONDS, Plan, Strategy, describe, position

T0 = 1_700_000_000.0


def plan(strategy: Strategy, **given: float) -> Plan:
    return Plan.build(strategy, given, Guardrails())


def at(p: Plan, percent: float, now: float, step_time: float = T0) -> tuple[float, bool]:
    where = position(p, percent=percent, start=T0, step_time=step_time, now=now)
    return where.percent, where.promote


def test_defaults_of_each_strategy() -> None:
    assert plan(Strategy.CANARY) == Plan(Strategy.CANARY, canary_percent=10, bake_seconds=600)
    assert plan(Strategy.BLUE_GREEN) == Plan(Strategy.BLUE_GREEN, canary_percent=5, bake_seconds=0)
    assert plan(Strategy.LINEAR) == Plan(Strategy.LINEAR, step_percent=10, step_interval_seconds=60)


def test_canary_holds_its_share_then_promotes_after_the_bake() -> None:
    p = plan(Strategy.CANARY, canary_percent=20, bake_seconds=30)
    assert p.initial_percent == 20
    assert at(p, 20, T0 + 29.9) == (20, False)
    assert at(p, 20, T0 + 30) == (20, True)


def test_blue_green_with_a_bake_holds_the_canary_share_then_promotes() -> None:
    p = plan(Strategy.BLUE_GREEN, bake_seconds=10)
    assert p.initial_percent == 5
    assert at(p, 5, T0 + 5) == (5, False)
    assert at(p, 5, T0 + 10) == (5, True)


def test_blue_green_without_a_bake_switches_and_is_due_at_once() -> None:
    p = plan(Strategy.BLUE_GREEN)
    assert p.initial_percent == 100
    assert at(p, 100, T0) == (100, True)


def test_linear_steps_from_the_last_change_up_to_100_then_promotes() -> None:
    p = plan(Strategy.LINEAR, step_percent=30, step_interval_seconds=10)
    assert p.initial_percent == 30
    assert at(p, 30, T0 + 9) == (30, False)
    assert at(p, 30, T0 + 10) == (60, False)
    # Counted from when the share last changed, not from the start.
    assert at(p, 60, T0 + 15, step_time=T0 + 10) == (60, False)
    assert at(p, 60, T0 + 20, step_time=T0 + 10) == (90, False)
    assert at(p, 90, T0 + 30, step_time=T0 + 20) == (100, True)
    assert at(p, 100, T0 + 31, step_time=T0 + 30) == (100, True)


def test_a_controller_away_for_many_intervals_catches_up_one_step_at_a_time() -> None:
    p = plan(Strategy.LINEAR, step_percent=10, step_interval_seconds=1)
    assert at(p, 10, T0 + 1000) == (20, False)


@pytest.mark.parametrize(
    ("strategy", "given", "field"),
    [
        (Strategy.CANARY, {"canary_percent": 0}, "canary_percent"),
        (Strategy.CANARY, {"canary_percent": 100.5}, "canary_percent"),
        (Strategy.CANARY, {"bake_seconds": 0}, "bake_seconds"),
        (Strategy.CANARY, {"bake_seconds": MAX_SECONDS + 1}, "bake_seconds"),
        (Strategy.BLUE_GREEN, {"bake_seconds": -1}, "bake_seconds"),
        (Strategy.LINEAR, {"step_percent": -5}, "step_percent"),
        (Strategy.LINEAR, {"step_interval_seconds": 0}, "step_interval_seconds"),
        (Strategy.LINEAR, {"step_interval_seconds": MAX_SECONDS + 1}, "step_interval_seconds"),
        (Strategy.LINEAR, {"canary_percent": 10}, "canary_percent"),
        (Strategy.CANARY, {"step_percent": 10}, "step_percent"),
    ],
)
def test_bad_parameters_name_their_field(
    strategy: Strategy, given: dict[str, float], field: str
) -> None:
    with pytest.raises(PlanError) as error:
        plan(strategy, **given)
    assert error.value.field == field
    assert field in error.value.message


def test_the_limits_themselves_are_allowed() -> None:
    plan(Strategy.CANARY, canary_percent=100, bake_seconds=MAX_SECONDS)
    plan(Strategy.LINEAR, step_percent=0.01, step_interval_seconds=1)


def test_a_plan_survives_its_json() -> None:
    p = Plan.build(Strategy.LINEAR, {"step_percent": 25}, Guardrails(min_jobs=3, max_p95_ratio=0))
    assert Plan.from_dict(p.as_dict()) == p


def test_status_says_what_promotion_waits_for() -> None:
    p = Plan.build(Strategy.CANARY, {"bake_seconds": 1}, Guardrails(min_jobs=20))
    text = describe(p, percent=10, start=T0, step_time=T0, now=T0 + 5, candidate_jobs=3)
    assert "waits for guardrail evidence: 3 of 20 finished jobs" in text
    early = describe(p, percent=10, start=T0, step_time=T0, now=T0, candidate_jobs=0)
    assert "promotion is due at" in early and "10%" in early
    linear = Plan.build(Strategy.LINEAR, {}, Guardrails())
    assert "next step (+10%)" in describe(
        linear, percent=10, start=T0, step_time=T0, now=T0, candidate_jobs=0
    )
