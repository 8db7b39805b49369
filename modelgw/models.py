"""What the client returns: plain frozen dataclasses, no protobuf types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
"""The statuses a job never leaves."""


@dataclass(frozen=True)
class Model:
    """A registered model: what people and agents read to decide whether it fits a task."""

    name: str
    display_name: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    backend: str = ""
    visibility: str = "PRIVATE"
    owners: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()
    default_version: str = ""
    resolved_version: str = ""
    """The version a job naming no version runs; empty when the model has none."""
    versions: tuple[str, ...] = ()
    created: datetime | None = None
    updated: datetime | None = None


@dataclass(frozen=True)
class Version:
    """One immutable version of a model: its backend and the shape of its data."""

    model: str
    version: str
    backend_kind: str = ""
    backend_config: dict[str, Any] = field(default_factory=dict)
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    created: datetime | None = None


@dataclass(frozen=True)
class SearchHit:
    """One model matching a search; ``score`` is comparable within one search only."""

    model: Model
    score: float
    snippet: str = ""
    """The matched text, matched words between "[" and "]"."""
    matched_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one input record: an output, or the error of that record alone."""

    output: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class JobInfo:
    """A job's state at one moment, with its results once it SUCCEEDED."""

    id: str
    model: str
    version: str
    status: str
    """QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED."""
    record_count: int = 0
    results: tuple[RecordResult, ...] = ()
    error_reason: str = ""
    """Why it FAILED or was CANCELLED, for programs ("model_error", "timeout", ...)."""
    error_message: str = ""
    jobs_ahead: int | None = None
    """While QUEUED: jobs of its version's queue ahead of this one; None when not known."""
    queue_warning: str = ""
    """While QUEUED: set when no worker serving the model was seen recently."""
    submitter: str = ""
    attempts: int = 0
    created: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    version_route: str = ""
    """Why it runs its version: "pinned", "default" or "rollout" ("" for jobs of
    earlier releases)."""

    @property
    def done(self) -> bool:
        """Whether the job has reached a final status."""
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class ConsensusProblem:
    """One problem in a consensus model definition, with where it is."""

    kind: str
    message: str
    location: str = ""


@dataclass(frozen=True)
class ConsensusCheck:
    """The verdict on a consensus model definition: ``ok`` when no problem was found."""

    ok: bool
    problems: tuple[ConsensusProblem, ...] = ()
    child_versions: dict[str, str] = field(default_factory=dict)
    """The version each child resolves to now, by alias."""
