"""A rollout's plan (its strategy's parameters and its guardrails) and its schedule:
where the candidate's share should be at a moment, and whether promotion is due.

Times are epoch seconds. The schedule reads the start time and the time the share
last changed, never a clock of its own, so it is the same on every admin replica.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from rollouts.errors import PlanError
from rollouts.guardrails import Guardrails

MAX_SECONDS = 7 * 86_400
"""The longest bake or step interval: a rollout that waits longer is forgotten, not safe."""


class Strategy(enum.StrEnum):
    """How traffic moves to the candidate; the values are the rollouts table's."""

    BLUE_GREEN = "blue_green"
    CANARY = "canary"
    LINEAR = "linear"


# Each strategy's parameters and their defaults; a parameter absent here is
# refused for that strategy rather than silently ignored.
DEFAULTS: dict[Strategy, dict[str, float]] = {
    Strategy.BLUE_GREEN: {"canary_percent": 5.0, "bake_seconds": 0},
    Strategy.CANARY: {"canary_percent": 10.0, "bake_seconds": 600},
    Strategy.LINEAR: {"step_percent": 10.0, "step_interval_seconds": 60},
}
PARAMETERS = ("canary_percent", "bake_seconds", "step_percent", "step_interval_seconds")


@dataclass(frozen=True)
class Plan:
    """A validated plan, every default filled in (0 for what the strategy does not use)."""

    strategy: Strategy
    canary_percent: float = 0.0
    bake_seconds: int = 0
    step_percent: float = 0.0
    step_interval_seconds: int = 0
    guardrails: Guardrails = field(default_factory=Guardrails)

    @classmethod
    def build(cls, strategy: Strategy, given: dict[str, float], guardrails: Guardrails) -> Plan:
        """The plan of a strategy from the parameters the caller set (`given`, by
        name); PlanError names the first parameter that cannot be used."""
        defaults = DEFAULTS[strategy]
        for name in given:
            if name not in defaults:
                uses = " and ".join(defaults)
                raise PlanError(
                    name, f"{name} does not apply to the {strategy.value} strategy: it uses {uses}"
                )
        values = {**defaults, **given}
        for name in ("canary_percent", "step_percent"):
            if name in values:
                _percent(name, values[name])
        if "bake_seconds" in values:
            _seconds("bake_seconds", values["bake_seconds"], minimum=0)
        if "step_interval_seconds" in values:
            _seconds("step_interval_seconds", values["step_interval_seconds"], minimum=1)
        if strategy is Strategy.CANARY and values["bake_seconds"] < 1:
            raise PlanError(
                "bake_seconds", "bake_seconds must be at least 1 for a canary: it is how long "
                "the canary runs before promotion (use blue_green to switch at once)"
            )  # fmt: skip
        return cls(
            strategy,
            canary_percent=float(values.get("canary_percent", 0.0)),
            bake_seconds=int(values.get("bake_seconds", 0)),
            step_percent=float(values.get("step_percent", 0.0)),
            step_interval_seconds=int(values.get("step_interval_seconds", 0)),
            guardrails=guardrails,
        )

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON values (the rollouts table's plan column)."""
        return {
            "strategy": self.strategy.value,
            **{name: getattr(self, name) for name in PARAMETERS},
            "guardrails": self.guardrails.as_dict(),
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Plan:
        """A plan as stored with as_dict."""
        return cls(
            Strategy(value["strategy"]),
            canary_percent=float(value["canary_percent"]),
            bake_seconds=int(value["bake_seconds"]),
            step_percent=float(value["step_percent"]),
            step_interval_seconds=int(value["step_interval_seconds"]),
            guardrails=Guardrails(**value["guardrails"]),
        )

    @property
    def initial_percent(self) -> float:
        """The candidate's share at the start."""
        return position(self, percent=0.0, start=0.0, step_time=0.0, now=0.0).percent


def _percent(name: str, value: float) -> None:
    if not 0 < value <= 100:
        raise PlanError(name, f"{name} {value:g} is out of range: use above 0 and at most 100")


def _seconds(name: str, value: float, *, minimum: int) -> None:
    if not minimum <= value <= MAX_SECONDS:
        raise PlanError(
            name, f"{name} {value:g} is out of range: use {minimum} to {MAX_SECONDS} (7 days)"
        )


@dataclass(frozen=True)
class Position:
    """Where the schedule puts a rollout at a moment."""

    percent: float
    """The candidate's share it should have now."""
    promote: bool
    """Whether the schedule is done, so promotion is due (once the guardrails have
    their evidence)."""
    next_change: float | None
    """When the schedule next changes the share or makes promotion due; None when
    nothing is left to wait for."""


def position(plan: Plan, *, percent: float, start: float, step_time: float, now: float) -> Position:
    """Where a rollout that started at `start`, whose share is `percent` since
    `step_time`, should be at `now`.

    A linear rollout moves one step per interval counted from its last change, so
    a controller that was away for several intervals catches up one step at a time.
    """
    if plan.strategy is Strategy.LINEAR:
        if percent <= 0:
            return Position(plan.step_percent, plan.step_percent >= 100, None)
        due_at = step_time + plan.step_interval_seconds
        if percent >= 100:
            return Position(100.0, True, None)
        if now < due_at:
            return Position(percent, False, due_at)
        stepped = min(100.0, percent + plan.step_percent)
        return Position(stepped, stepped >= 100, None if stepped >= 100 else now)
    if plan.strategy is Strategy.BLUE_GREEN and plan.bake_seconds == 0:
        return Position(100.0, True, None)
    ends = start + plan.bake_seconds
    return Position(plan.canary_percent, now >= ends, None if now >= ends else ends)


def describe(
    plan: Plan, *, percent: float, start: float, step_time: float, now: float, candidate_jobs: int
) -> str:
    """What an active rollout is doing or waiting for, in a sentence for people."""
    where = position(plan, percent=percent, start=start, step_time=step_time, now=now)
    share = f"{percent:g}% of the traffic that names no version goes to the candidate"
    if where.promote:
        needed = plan.guardrails.min_jobs
        if candidate_jobs < needed:
            return (
                f"{share}; promotion is due but waits for guardrail evidence: "
                f"{candidate_jobs} of {needed} finished jobs of the candidate since the start"
            )
        return f"{share}; promotion is due at the controller's next tick"
    if where.next_change is None:
        return share
    when = _clock(where.next_change)
    if plan.strategy is Strategy.LINEAR:
        return f"{share}; the next step (+{plan.step_percent:g}%) is due at {when}"
    return f"{share}; promotion is due at {when}"


def _clock(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
