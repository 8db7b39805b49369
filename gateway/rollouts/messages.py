"""Conversions between rollout rows and the modelgateway.v1 Rollout message."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from google.protobuf import timestamp_pb2

from gateway.errors import InvalidArgument
from gateway.rollouts.store import ACTIVE, PROMOTED, ROLLED_BACK, RolloutRow
from modelgateway.v1 import rollout_pb2
from rollouts.guardrails import Breach, Figures, Guardrails
from rollouts.plan import Plan, Strategy, describe

STRATEGIES = {
    rollout_pb2.ROLLOUT_STRATEGY_BLUE_GREEN: Strategy.BLUE_GREEN,
    rollout_pb2.ROLLOUT_STRATEGY_CANARY: Strategy.CANARY,
    rollout_pb2.ROLLOUT_STRATEGY_LINEAR: Strategy.LINEAR,
}
_STRATEGY_ENUMS = {strategy: number for number, strategy in STRATEGIES.items()}
_STATES = {
    ACTIVE: rollout_pb2.ROLLOUT_STATE_ACTIVE,
    PROMOTED: rollout_pb2.ROLLOUT_STATE_PROMOTED,
    ROLLED_BACK: rollout_pb2.ROLLOUT_STATE_ROLLED_BACK,
}
_GUARDRAIL_FIELDS = ("min_jobs", "max_failure_rate_increase", "max_p95_ratio")


def strategy_of(request: rollout_pb2.StartRolloutRequest) -> Strategy:
    """The request's strategy; INVALID_ARGUMENT when it names none."""
    strategy = STRATEGIES.get(request.strategy)
    if strategy is None:
        raise InvalidArgument(
            "strategy is required: ROLLOUT_STRATEGY_BLUE_GREEN, ROLLOUT_STRATEGY_CANARY or "
            "ROLLOUT_STRATEGY_LINEAR",
            "strategy",
        )
    return strategy


def given_parameters(request: rollout_pb2.StartRolloutRequest) -> dict[str, float]:
    """The strategy parameters the caller set, by name (unset ones take defaults)."""
    names = ("canary_percent", "bake_seconds", "step_percent", "step_interval_seconds")
    return {name: getattr(request, name) for name in names if request.HasField(name)}


def guardrails_of(request: rollout_pb2.StartRolloutRequest) -> Guardrails:
    """The request's guardrails, unset fields at their defaults (PlanError when out of range)."""
    given = request.guardrails
    return Guardrails(
        **{name: getattr(given, name) for name in _GUARDRAIL_FIELDS if given.HasField(name)}
    )


def _timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def figures_message(figures: Figures) -> rollout_pb2.VersionFigures:
    """A version's figures as the API shows them."""
    return rollout_pb2.VersionFigures(**figures.as_dict())


def plan_message(plan: Plan) -> rollout_pb2.RolloutPlan:
    """The plan as the API shows it, defaults filled in."""
    rails = plan.guardrails
    return rollout_pb2.RolloutPlan(
        strategy=_STRATEGY_ENUMS[plan.strategy],
        canary_percent=plan.canary_percent,
        bake_seconds=plan.bake_seconds,
        step_percent=plan.step_percent,
        step_interval_seconds=plan.step_interval_seconds,
        guardrails=rollout_pb2.Guardrails(**rails.as_dict()),
    )


def _step(entry: dict[str, Any]) -> rollout_pb2.RolloutStep:
    return rollout_pb2.RolloutStep(
        time=_timestamp(dt.datetime.fromisoformat(entry["time"])),
        percent=entry["percent"],
        actor=entry["actor"],
        note=entry["note"],
    )


def status(row: RolloutRow, candidate_jobs: int, now: float | None = None) -> str:
    """What the rollout is doing or waiting for, or how it ended."""
    if row.state == PROMOTED:
        return f"promoted by {row.ended_by}: {row.candidate} is the default version"
    if row.state == ROLLED_BACK:
        return f"rolled back by {row.ended_by}: all traffic on {row.baseline}; {row.end_reason}"
    return describe(
        row.parsed_plan,
        percent=row.percent,
        start=row.start_time.timestamp(),
        step_time=row.step_time.timestamp(),
        now=time.time() if now is None else now,
        candidate_jobs=candidate_jobs,
    )


def rollout_message(row: RolloutRow, live: dict[str, Any] | None = None) -> rollout_pb2.Rollout:
    """The rollout as the API shows it; `live` figures (lifecycle.Windows.figures)
    for an active one, else the figures recorded when it ended."""
    figures = live if live is not None else row.figures
    message = rollout_pb2.Rollout(
        id=str(row.id),
        model=row.model,
        baseline_version=row.baseline,
        candidate_version=row.candidate,
        strategy=_STRATEGY_ENUMS[Strategy(row.strategy)],
        state=_STATES[row.state],
        candidate_percent=row.percent,
        plan=plan_message(row.parsed_plan),
        status=status(row, int(figures.get("candidate", {}).get("jobs", 0))),
        start_time=_timestamp(row.start_time),
        step_time=_timestamp(row.step_time),
        started_by=row.started_by,
        ended_by=row.ended_by,
        end_reason=row.end_reason,
        steps=[_step(entry) for entry in row.steps],
    )
    if row.end_time is not None:
        message.end_time.CopyFrom(_timestamp(row.end_time))
    for side in ("baseline", "candidate"):
        if side in figures:
            getattr(message, side).CopyFrom(figures_message(Figures.from_dict(figures[side])))
    if "breach" in figures:
        breach = Breach.from_dict(figures["breach"])
        message.breach.CopyFrom(
            rollout_pb2.GuardrailBreach(
                guardrail=breach.guardrail,
                observed=breach.observed,
                limit=breach.limit,
                baseline=figures_message(breach.baseline),
                candidate=figures_message(breach.candidate),
            )
        )
    return message
