"""The job record as stored in Redis, its status enum, the job spec (what a
worker runs), and their conversions to and from Redis fields."""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_S = 300.0
"""How long a job may run when its version's backend config sets no timeout_s."""

CONSENSUS = "consensus"
"""The backend kind of a consensus version: its job runs child jobs."""


class JobStatus(enum.StrEnum):
    """Where a job is in its life; the last three are terminal."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        """Whether a job in this status is finished for good."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Transition:
    """A job entering a status at an epoch time."""

    status: JobStatus
    time: float


@dataclass(frozen=True)
class ChildSpec:
    """One child of a consensus job: the child version resolved at submission
    (and why: rollouts.routing.Route), the output field its formula reads, and
    the child job's own spec."""

    model: str
    version: str
    output: str
    spec: JobSpec
    route: str = ""
    rollout_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored inside the parent's spec."""
        out = {
            "model": self.model,
            "version": self.version,
            "output": self.output,
            "spec": self.spec.to_dict(),
        }
        if self.route:
            out["route"] = self.route
            out["rollout"] = self.rollout_id
        return out

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ChildSpec:
        """The child as to_dict stored it."""
        return cls(
            model=str(value["model"]),
            version=str(value["version"]),
            output=str(value["output"]),
            spec=JobSpec.from_dict(value.get("spec") or {}),
            route=str(value.get("route") or ""),
            rollout_id=str(value.get("rollout") or ""),
        )


@dataclass(frozen=True)
class JobSpec:
    """What a worker runs for a job: its version's backend kind and config, its
    timeout, and for a consensus job its children by alias. Stored as the job's
    "spec" field, a JSON object {"kind", "config", "timeout_s"[, "children"]}."""

    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    children: Mapping[str, ChildSpec] = field(default_factory=dict)
    """Consensus jobs only: the child versions, in the definition's order."""

    @property
    def consensus(self) -> bool:
        """Whether the job runs child jobs and combines their outputs."""
        return self.kind == CONSENSUS

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored as the job's spec (what a backend reads)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "config": dict(self.config),
            "timeout_s": self.timeout_s,
        }
        if self.consensus or self.children:
            out["children"] = {alias: c.to_dict() for alias, c in self.children.items()}
        return out

    def to_json(self) -> str:
        """The job's "spec" field: encoded once per spec, which every submission to
        its version shares (the execution server builds one per version row)."""
        return self._json

    @functools.cached_property
    def _json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> JobSpec:
        """The spec as to_dict stored it; a spec without a timeout_s (or without a
        kind, which no backend runs) takes the defaults."""
        timeout = value.get("timeout_s")
        return cls(
            kind=str(value.get("kind") or ""),
            config=dict(value.get("config") or {}),
            timeout_s=DEFAULT_TIMEOUT_S if timeout is None else float(timeout),
            children={
                str(alias): ChildSpec.from_dict(child)
                for alias, child in (value.get("children") or {}).items()
            },
        )

    @classmethod
    def from_json(cls, encoded: str | None) -> JobSpec:
        """The spec of a job's "spec" field; an absent one reads as an empty spec."""
        return cls.from_dict(json.loads(encoded) if encoded else {})


@dataclass(frozen=True)
class JobRecord:
    """A job as the gateway and workers see it; `fields` mirrors the Redis hash."""

    id: str
    model: str
    version: str
    submitter: str
    status: JobStatus
    created: float
    record_count: int
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    run_seconds: float | None = None
    transitions: tuple[Transition, ...] = ()
    idempotency_key: str = ""
    error_reason: str = ""
    error_message: str = ""
    result_json: str | None = None
    spec: JobSpec = field(default_factory=lambda: JobSpec(""))
    revision: int = 0
    """Grows with every change a watcher should see (a transition, a child's progress)."""
    parent_id: str = ""
    children: tuple[dict[str, str], ...] = ()
    """For a consensus job: {alias, model, version, job_id, status} per child."""
    queue_version: str = ""
    """The version whose queue holds the job: its version; '' for a job queued by an
    earlier release, in the model's single queue (keys.queue(model))."""
    route: str = ""
    """Why it runs its version (rollouts.routing.Route); '' for earlier releases' jobs."""
    rollout_id: str = ""
    """The rollout that chose its version, for route 'rollout'."""

    @classmethod
    def from_hash(cls, values: dict[str, str]) -> JobRecord:
        """The record of a job's Redis hash (HGETALL)."""
        return cls(
            id=values["id"],
            model=values["model"],
            version=values["version"],
            submitter=values["submitter"],
            status=JobStatus(values["status"]),
            created=float(values["created"]),
            record_count=int(values["record_count"]),
            attempts=int(values.get("attempts", 0)),
            started=_float(values.get("started")),
            ended=_float(values.get("ended")),
            run_seconds=_float(values.get("run_seconds")),
            transitions=parse_transitions(values.get("transitions", "")),
            idempotency_key=values.get("idem_key", ""),
            error_reason=values.get("error_reason", ""),
            error_message=values.get("error_message", ""),
            result_json=values.get("result"),
            spec=JobSpec.from_json(values.get("spec")),
            revision=int(values.get("rev", 0)),
            parent_id=values.get("parent", ""),
            children=tuple(json.loads(values.get("children", "[]"))),
            queue_version=values.get("queue", ""),
            route=values.get("route", ""),
            rollout_id=values.get("rollout", ""),
        )

    def results(self) -> list[dict[str, Any]]:
        """Per-record outcomes: each {"output": {...}} or {"error": "..."}."""
        return json.loads(self.result_json) if self.result_json else []


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def parse_transitions(encoded: str) -> tuple[Transition, ...]:
    """Transitions are stored as 'STATUS@epoch;' runs, appended by the Lua scripts."""
    out = []
    for part in encoded.split(";"):
        if part:
            status, _, when = part.partition("@")
            out.append(Transition(JobStatus(status), float(when)))
    return tuple(out)
