"""The job record as stored in Redis, its status enum, and their conversions."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class JobStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Transition:
    status: JobStatus
    time: float


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
    spec: dict[str, Any] = field(default_factory=dict)
    revision: int = 0
    """Grows with every change a watcher should see (a transition, a child's progress)."""
    parent_id: str = ""
    children: tuple[dict[str, str], ...] = ()
    """For a consensus job: {alias, model, version, job_id, status} per child."""

    @classmethod
    def from_hash(cls, values: dict[str, str]) -> JobRecord:
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
            spec=json.loads(values.get("spec", "{}")),
            revision=int(values.get("rev", 0)),
            parent_id=values.get("parent", ""),
            children=tuple(json.loads(values.get("children", "[]"))),
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
