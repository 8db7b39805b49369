"""The guardrails of a rollout: when the candidate's figures say it is worse than
the baseline's, and by how much.

Both versions are judged on their jobs that finished since the rollout started
(scheduler.stats.VersionWindow). Nothing is judged before the candidate has
min_jobs finished jobs: a failure or two in a handful of jobs says little.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rollouts.errors import PlanError
from scheduler.stats import VersionWindow

MAX_MIN_JOBS = 1_000_000
MAX_P95_RATIO = 1000.0


@dataclass(frozen=True)
class Guardrails:
    """What rolls a candidate back automatically."""

    min_jobs: int = 20
    """Finished jobs of the candidate before anything is judged or promoted."""
    max_failure_rate_increase: float = 0.05
    """The most candidate.failure_rate may exceed baseline.failure_rate (absolute)."""
    max_p95_ratio: float = 2.0
    """The most candidate p95 run time may be as a multiple of the baseline's; 0 is off."""

    def __post_init__(self) -> None:
        if not 1 <= self.min_jobs <= MAX_MIN_JOBS:
            raise PlanError(
                "guardrails.min_jobs",
                f"guardrails.min_jobs {self.min_jobs} is out of range: use 1 to {MAX_MIN_JOBS:,}",
            )
        if not 0 <= self.max_failure_rate_increase <= 1:
            raise PlanError(
                "guardrails.max_failure_rate_increase",
                f"guardrails.max_failure_rate_increase {self.max_failure_rate_increase:g} is out "
                "of range: it is an absolute difference of failure rates, 0 to 1 (0.05 is five "
                "points)",
            )
        ratio = self.max_p95_ratio
        if ratio != 0 and not 1 <= ratio <= MAX_P95_RATIO:
            raise PlanError(
                "guardrails.max_p95_ratio",
                f"guardrails.max_p95_ratio {ratio:g} is out of range: use 1 to "
                f"{MAX_P95_RATIO:g}, or 0 to turn the run-time check off",
            )

    def as_dict(self) -> dict[str, Any]:
        """The guardrails as JSON values (stored in the rollout's plan)."""
        return asdict(self)


@dataclass(frozen=True)
class Figures:
    """One version's window as plain numbers: what is shown and recorded."""

    version: str
    jobs: int
    failed_jobs: int
    records: int
    failed_records: int
    failure_rate: float
    p95_run_seconds: float

    @classmethod
    def of(cls, window: VersionWindow) -> Figures:
        """The figures of a version's window."""
        return cls(
            version=window.version,
            jobs=window.jobs,
            failed_jobs=window.failed_jobs,
            records=window.records,
            failed_records=window.failed_records,
            failure_rate=window.failure_rate,
            p95_run_seconds=window.run.p95,
        )

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Figures:
        """Figures as recorded with as_dict."""
        return cls(**{name: value[name] for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON values."""
        return asdict(self)


@dataclass(frozen=True)
class Breach:
    """The guardrail that tripped, the figure that tripped it, and both versions' figures."""

    guardrail: str
    observed: float
    limit: float
    baseline: Figures
    candidate: Figures
    sentence: str
    """Why, for people: the rollout's end reason."""

    def as_dict(self) -> dict[str, Any]:
        """The breach as JSON values (stored with the rolled-back rollout)."""
        return {
            "guardrail": self.guardrail,
            "observed": self.observed,
            "limit": self.limit,
            "baseline": self.baseline.as_dict(),
            "candidate": self.candidate.as_dict(),
            "sentence": self.sentence,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Breach:
        """A breach as recorded with as_dict."""
        return cls(
            guardrail=value["guardrail"],
            observed=value["observed"],
            limit=value["limit"],
            baseline=Figures.from_dict(value["baseline"]),
            candidate=Figures.from_dict(value["candidate"]),
            sentence=value["sentence"],
        )


def has_evidence(guardrails: Guardrails, candidate: VersionWindow) -> bool:
    """Whether the candidate has finished enough jobs to be judged or promoted."""
    return candidate.jobs >= guardrails.min_jobs


def judge(
    guardrails: Guardrails, baseline: VersionWindow, candidate: VersionWindow
) -> Breach | None:
    """The breach the candidate's figures show against the baseline's, or None."""
    if not has_evidence(guardrails, candidate):
        return None
    base, cand = Figures.of(baseline), Figures.of(candidate)
    increase = cand.failure_rate - base.failure_rate
    if increase > guardrails.max_failure_rate_increase:
        return Breach(
            "max_failure_rate_increase",
            increase,
            guardrails.max_failure_rate_increase,
            base,
            cand,
            f"candidate {cand.version} failed {cand.failure_rate:.1%} of its records "
            f"({cand.failed_records} of {cand.records} in {cand.jobs} jobs) against "
            f"{base.failure_rate:.1%} for baseline {base.version}: {increase * 100:.1f} points "
            f"more, above the {guardrails.max_failure_rate_increase * 100:g} allowed",
        )
    ratio = guardrails.max_p95_ratio
    # A baseline without finished jobs (or without measured run times) gives no
    # ratio to compare with: the run-time check waits for one.
    measured = base.jobs > 0 and base.p95_run_seconds > 0
    if ratio > 0 and measured and cand.p95_run_seconds > base.p95_run_seconds * ratio:
        return Breach(
            "max_p95_ratio",
            cand.p95_run_seconds / base.p95_run_seconds,
            ratio,
            base,
            cand,
            f"candidate {cand.version} ran in {cand.p95_run_seconds:.3g} s at the 95th "
            f"percentile against {base.p95_run_seconds:.3g} s for baseline {base.version}, "
            f"more than the {ratio:g} times allowed",
        )
    return None
