"""The guardrails' judgement of a candidate against its baseline. No servers."""

from __future__ import annotations

import pytest

from rollouts.errors import PlanError
from rollouts.guardrails import Breach, Guardrails, has_evidence, judge
from scheduler.stats import VersionWindow


def window(version: str, jobs: int, failed: int = 0, runs: float = 0.1) -> VersionWindow:
    """jobs of one record each, `failed` of them failed, each run taking `runs` s."""
    return VersionWindow(version, jobs, failed, jobs, failed, tuple([runs] * jobs))


def test_nothing_is_judged_before_min_jobs() -> None:
    rails = Guardrails(min_jobs=5)
    assert judge(rails, window("1", 10), window("2", 4, failed=4)) is None
    assert not has_evidence(rails, window("2", 4))
    assert has_evidence(rails, window("2", 5))


def test_a_failure_rate_increase_above_the_limit_breaches() -> None:
    rails = Guardrails(min_jobs=10, max_failure_rate_increase=0.05)
    breach = judge(rails, window("1", 100, failed=1), window("2", 10, failed=2))
    assert breach is not None
    assert breach.guardrail == "max_failure_rate_increase"
    assert breach.observed == pytest.approx(0.19)
    assert (breach.baseline.failure_rate, breach.candidate.failure_rate) == (0.01, 0.2)
    assert "candidate 2 failed 20.0%" in breach.sentence and "baseline 1" in breach.sentence
    assert Breach.from_dict(breach.as_dict()) == breach


def test_an_increase_within_the_limit_does_not_breach() -> None:
    rails = Guardrails(min_jobs=10, max_failure_rate_increase=0.1)
    assert judge(rails, window("1", 10, failed=1), window("2", 10, failed=2)) is None


def test_a_slow_candidate_breaches_the_p95_ratio() -> None:
    rails = Guardrails(min_jobs=3, max_p95_ratio=2.0)
    breach = judge(rails, window("1", 5, runs=0.1), window("2", 3, runs=0.5))
    assert breach is not None and breach.guardrail == "max_p95_ratio"
    assert breach.observed == pytest.approx(5.0)
    assert breach.candidate.p95_run_seconds == 0.5


def test_the_p95_check_needs_a_baseline_and_can_be_off() -> None:
    slow = window("2", 3, runs=9.0)
    assert judge(Guardrails(min_jobs=3), window("1", 0), slow) is None
    assert judge(Guardrails(min_jobs=3, max_p95_ratio=0), window("1", 5, runs=0.1), slow) is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"min_jobs": 0}, "guardrails.min_jobs"),
        ({"min_jobs": 1_000_001}, "guardrails.min_jobs"),
        ({"max_failure_rate_increase": -0.1}, "guardrails.max_failure_rate_increase"),
        ({"max_failure_rate_increase": 1.5}, "guardrails.max_failure_rate_increase"),
        ({"max_p95_ratio": 0.5}, "guardrails.max_p95_ratio"),
    ],
)
def test_bad_guardrails_name_their_field(values: dict[str, float], field: str) -> None:
    with pytest.raises(PlanError) as error:
        Guardrails(**values)  # type: ignore[arg-type]
    assert error.value.field == field
