"""Between protobuf messages and the client's dataclasses and plain dicts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from modelgateway.v1 import job_pb2, model_pb2, registry_pb2
from modelgw.errors import InvalidInput
from modelgw.models import (
    ConsensusCheck,
    ConsensusProblem,
    JobInfo,
    Model,
    RecordResult,
    SearchHit,
    Version,
)

_PREFIX = "JOB_STATUS_"
STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")


def to_struct(record: Any, index: int = 0) -> struct_pb2.Struct:
    """A JSON-like dict as a Struct; InvalidInput naming the record when it is not one."""
    if not isinstance(record, Mapping):
        raise InvalidInput(
            f"records[{index}] must be an object (a dict), not {type(record).__name__}",
            record_index=index,
            field_path="",
        )
    struct = struct_pb2.Struct()
    try:
        _check_json(record)
        struct.update(record)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"records[{index}] is not JSON data: {exc}", record_index=index, field_path=""
        ) from None
    return struct


def _check_json(value: Any, depth: int = 0) -> None:
    """Refuses what a Struct cannot carry faithfully: non-string keys, NaN, other types."""
    if depth > 100:
        raise ValueError("nested more than 100 levels deep")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"key {key!r} is not a string")
            _check_json(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    elif value is not None and not isinstance(value, (str, bool, int, float)):
        raise TypeError(f"{type(value).__name__} is not a JSON type")


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a plain dict."""
    return dict(json_format.MessageToDict(struct))


def _time(stamp: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    if not present:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


def model(message: model_pb2.Model) -> Model:
    """A Model message as a Model."""
    return Model(
        name=message.name,
        display_name=message.display_name,
        description=message.description,
        tags=tuple(message.tags),
        backend=message.backend,
        visibility=model_pb2.Visibility.Name(message.visibility).removeprefix("VISIBILITY_"),
        owners=tuple(message.owners),
        readers=tuple(message.readers),
        default_version=message.default_version,
        resolved_version=message.resolved_version,
        versions=tuple(message.versions),
        created=_time(message.create_time, message.HasField("create_time")),
        updated=_time(message.update_time, message.HasField("update_time")),
    )


def version(message: model_pb2.ModelVersion) -> Version:
    """A ModelVersion message as a Version."""
    return Version(
        model=message.model,
        version=message.version,
        backend_kind=message.backend.kind,
        backend_config=from_struct(message.backend.config),
        input_schema=from_struct(message.input_schema),
        output_schema=from_struct(message.output_schema),
        notes=message.notes,
        created=_time(message.create_time, message.HasField("create_time")),
    )


def search_hit(message: registry_pb2.SearchHit) -> SearchHit:
    """A SearchHit message as a SearchHit."""
    return SearchHit(
        model=model(message.model),
        score=message.score,
        snippet=message.snippet,
        matched_fields=tuple(message.matched_fields),
    )


def consensus_check(message: registry_pb2.VerifyConsensusModelResponse) -> ConsensusCheck:
    """A VerifyConsensusModel answer as a ConsensusCheck."""
    return ConsensusCheck(
        ok=message.ok,
        problems=tuple(
            ConsensusProblem(kind=p.kind, message=p.message, location=p.location)
            for p in message.problems
        ),
        child_versions=dict(message.child_versions),
    )


def status_name(status: int) -> str:
    """A JobStatus value as its short name ("QUEUED")."""
    return str(job_pb2.JobStatus.Name(status)).removeprefix(_PREFIX)


def status_value(name: str) -> int:
    """A short status name as a JobStatus value (empty for any); InvalidInput when unknown."""
    if not name:
        return int(job_pb2.JOB_STATUS_UNSPECIFIED)
    wanted = name.strip().upper().removeprefix(_PREFIX)
    if wanted not in STATUSES:
        raise InvalidInput(f"unknown job status {name[:40]!r}: one of {', '.join(STATUSES)}")
    return int(job_pb2.JobStatus.Value(_PREFIX + wanted))


def job_info(message: job_pb2.Job) -> JobInfo:
    """A Job message as a JobInfo."""
    place = message.queue_place
    has_place = message.HasField("queue_place")
    return JobInfo(
        id=message.id,
        model=message.model,
        version=message.version,
        status=status_name(message.status),
        record_count=message.record_count,
        results=tuple(
            RecordResult(
                output=from_struct(r.output) if r.HasField("output") else None,
                error=r.error or None,
            )
            for r in message.results
        ),
        error_reason=message.error.reason,
        error_message=message.error.message,
        jobs_ahead=place.jobs_ahead if has_place and place.HasField("jobs_ahead") else None,
        queue_warning=place.warning if has_place else "",
        submitter=message.submitter,
        attempts=message.attempts,
        created=_time(message.create_time, message.HasField("create_time")),
        started=_time(message.start_time, message.HasField("start_time")),
        ended=_time(message.end_time, message.HasField("end_time")),
        version_route=_ROUTES.get(message.version_route, ""),
    )


_ROUTES = {
    job_pb2.VERSION_ROUTE_PINNED: "pinned",
    job_pb2.VERSION_ROUTE_DEFAULT: "default",
    job_pb2.VERSION_ROUTE_ROLLOUT: "rollout",
}
