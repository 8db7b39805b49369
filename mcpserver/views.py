"""What the tools return: pydantic models, so that each tool publishes an output
schema and its results arrive as structured content.

Converted from the client's dataclasses (modelgw.models). A version's backend
config is left out on purpose: it is the owner's, and may name hosts or paths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from modelgw import ConsensusCheck, JobInfo, Model, SearchHit, Version


class ModelSummary(BaseModel):
    """A model as search results and descriptions show it."""

    name: str
    display_name: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    visibility: str = ""
    owners: list[str] = Field(default_factory=list)
    default_version: str = ""
    resolved_version: str = Field("", description="The version a job naming none runs.")
    versions: list[str] = Field(default_factory=list)


class Hit(BaseModel):
    """One search hit; `score` is comparable within one search only."""

    model: ModelSummary
    score: float
    snippet: str = Field("", description="Matched text, matched words in [brackets].")
    matched_fields: list[str] = Field(default_factory=list)


class SearchResult(BaseModel):
    """Models the caller may read that match the query, best first."""

    hits: list[Hit]


class VersionView(BaseModel):
    """One immutable version: the shape of the records it takes and gives."""

    model: str
    version: str
    backend_kind: str = ""
    notes: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] = Field(default_factory=dict)
    created: str = ""


class VersionList(BaseModel):
    """Every version of a model, as the registry lists them."""

    model: str
    versions: list[VersionView]


class ModelDescription(BaseModel):
    """Everything needed to run a model: metadata, the resolved version's schemas,
    and an example input record made from the input schema."""

    model: ModelSummary
    version: VersionView | None = None
    example_input: Any = None
    how_to_run: str = ""


class RecordView(BaseModel):
    """The outcome of one input record: an output, or that record's own error."""

    index: int
    output: dict[str, Any] | None = None
    error: str | None = None


class JobView(BaseModel):
    """A job's state; `results` (aligned with the records) once it SUCCEEDED."""

    job_id: str
    model: str
    version: str
    status: str = Field(description="QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED.")
    done: bool
    record_count: int = 0
    error_reason: str = ""
    error_message: str = ""
    jobs_ahead: int | None = None
    queue_warning: str = ""
    results: list[RecordView] = Field(default_factory=list)
    created: str = ""
    ended: str = ""


class SubmittedJob(BaseModel):
    """A queued job: poll it with get_job or wait_for_job."""

    job_id: str
    model: str
    version: str = Field(description="The version that will run (resolved at submission).")


class JobList(BaseModel):
    """The caller's jobs, newest first."""

    jobs: list[JobView]


class Problem(BaseModel):
    """One problem in a consensus definition, with where it is."""

    kind: str
    message: str
    location: str = ""


class ConsensusCheckView(BaseModel):
    """The verdict on a consensus definition: `ok` when no problem was found."""

    ok: bool
    problems: list[Problem] = Field(default_factory=list)
    child_versions: dict[str, str] = Field(default_factory=dict)


def _time(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def model_summary(model: Model) -> ModelSummary:
    """The summary of a client Model."""
    return ModelSummary(
        name=model.name,
        display_name=model.display_name,
        description=model.description,
        tags=list(model.tags),
        visibility=model.visibility,
        owners=list(model.owners),
        default_version=model.default_version,
        resolved_version=model.resolved_version,
        versions=list(model.versions),
    )


def hit(found: SearchHit) -> Hit:
    """One search hit."""
    return Hit(
        model=model_summary(found.model),
        score=found.score,
        snippet=found.snippet,
        matched_fields=list(found.matched_fields),
    )


def version_view(version: Version) -> VersionView:
    """A version without its backend config."""
    return VersionView(
        model=version.model,
        version=version.version,
        backend_kind=version.backend_kind,
        notes=version.notes,
        input_schema=version.input_schema,
        output_schema=version.output_schema,
        created=_time(version.created),
    )


def job_view(info: JobInfo) -> JobView:
    """A job's state, its results numbered by record."""
    return JobView(
        job_id=info.id,
        model=info.model,
        version=info.version,
        status=info.status,
        done=info.done,
        record_count=info.record_count,
        error_reason=info.error_reason,
        error_message=info.error_message,
        jobs_ahead=info.jobs_ahead,
        queue_warning=info.queue_warning,
        results=[
            RecordView(index=i, output=r.output, error=r.error) for i, r in enumerate(info.results)
        ],
        created=_time(info.created),
        ended=_time(info.ended),
    )


def consensus_check(check: ConsensusCheck) -> ConsensusCheckView:
    """The verdict on a consensus definition."""
    return ConsensusCheckView(
        ok=check.ok,
        problems=[
            Problem(kind=p.kind, message=p.message, location=p.location) for p in check.problems
        ],
        child_versions=dict(check.child_versions),
    )
