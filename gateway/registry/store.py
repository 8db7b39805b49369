"""The registry's SQL: every query on models and versions, and nothing else.

Values always travel as query parameters; the only identifiers spliced into
SQL are column names from the fixed UPDATABLE_COLUMNS table below. Every
committed change to what a model runs (its default version, its versions, the
model itself) is announced on CHANNEL by the triggers of migration 0006, and
so is a change to its admission limits (0007).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.errors import AlreadyExists, NotFound, model_not_found
from gateway.registry.limits import LimitValues

CHANNEL = "modelgw_registry"
"""LISTEN/NOTIFY channel announcing a committed change to what a model runs; the
payload is the model's name, or "*" when every model may have changed."""

VersionIdentity = tuple[int, dt.datetime]
"""A version row's (seq, create_time): unlike (model, version), never the identity
of two different rows, even across a deleted and re-created model or a reset
(which restarts seq)."""


@dataclass(frozen=True)
class ModelRow:
    """A model as stored, with its version names in creation order."""

    name: str
    display_name: str
    description: str
    tags: list[str]
    backend: str
    default_version: str | None
    versions: list[str]  # oldest first
    create_time: dt.datetime
    update_time: dt.datetime
    limits: LimitValues
    """As its owners set them; 0 for the platform's default."""
    limit_caps: LimitValues
    """As superusers set them; 0 for the platform's cap."""

    @property
    def latest_version(self) -> str | None:
        """The most recently created version, or None without versions."""
        return self.versions[-1] if self.versions else None


@dataclass(frozen=True)
class VersionRow:
    """A model version as stored."""

    model: str
    version: str
    seq: int
    backend_kind: str
    backend_config: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    notes: str
    create_time: dt.datetime

    @property
    def identity(self) -> VersionIdentity:
        """What tells this version apart from one deleted and created again under its name."""
        return (self.seq, self.create_time)


# Model fields an UpdateModel field mask may name, and their columns.
UPDATABLE_COLUMNS = {
    "display_name": "display_name",
    "description": "description",
    "tags": "tags",
    "backend": "backend",
}

_MODEL_SELECT = """
SELECT m.name, m.display_name, m.description, m.tags, m.backend, m.default_version,
       m.create_time, m.update_time,
       m.limit_max_queued_jobs, m.limit_max_queued_records, m.limit_user_jobs_per_second,
       m.cap_max_queued_jobs, m.cap_max_queued_records, m.cap_user_jobs_per_second,
       COALESCE((SELECT array_agg(v.version ORDER BY v.seq)
                 FROM model_versions v WHERE v.model = m.name), '{}') AS versions
FROM models m
"""

_VERSION_COLUMNS = (
    "model, version, seq, backend_kind, backend_config, input_schema, output_schema, "
    "notes, create_time"
)


def _model(record: asyncpg.Record) -> ModelRow:
    values = dict(record)
    limits, caps = (
        LimitValues(
            values.pop(f"{prefix}_max_queued_jobs"),
            values.pop(f"{prefix}_max_queued_records"),
            values.pop(f"{prefix}_user_jobs_per_second"),
        )
        for prefix in ("limit", "cap")
    )
    return ModelRow(**values, limits=limits, limit_caps=caps)


def _version(record: asyncpg.Record) -> VersionRow:
    return VersionRow(**dict(record))


async def insert_model(conn: asyncpg.Connection, name: str, fields: dict[str, Any]) -> None:
    """Inserts a model with the given UPDATABLE_COLUMNS fields."""
    columns = [UPDATABLE_COLUMNS[f] for f in fields]
    placeholders = [f"${i}" for i in range(2, len(columns) + 2)]
    try:
        await conn.execute(
            f"INSERT INTO models (name, {', '.join(columns)})"
            f" VALUES ($1, {', '.join(placeholders)})",
            name,
            *fields.values(),
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"a model named {name!r} already exists; choose another name") from None


async def get_model(conn: asyncpg.Connection, name: str, *, lock: bool = False) -> ModelRow:
    """The model, or NotFound. lock=True holds its row until the transaction ends."""
    query = _MODEL_SELECT + " WHERE m.name = $1" + (" FOR UPDATE OF m" if lock else "")
    record = await conn.fetchrow(query, name)
    if record is None:
        raise model_not_found(name)
    return _model(record)


async def list_models(
    conn: asyncpg.Connection,
    *,
    only: list[str] | None,
    after: str,
    tag: str,
    limit: int,
) -> list[ModelRow]:
    """Models ordered by name after the cursor; only=None means no name filter."""
    records = await conn.fetch(
        _MODEL_SELECT
        + " WHERE m.name > $1"
        + " AND ($2::text[] IS NULL OR m.name = ANY($2::text[]))"
        + " AND ($3 = '' OR m.tags @> ARRAY[$3])"
        + " ORDER BY m.name LIMIT $4",
        after,
        only,
        tag,
        limit,
    )
    return [_model(r) for r in records]


async def models_named(conn: asyncpg.Connection, names: list[str]) -> dict[str, ModelRow]:
    """The models of these names that exist, by name."""
    records = await conn.fetch(_MODEL_SELECT + " WHERE m.name = ANY($1::text[])", names)
    return {r["name"]: _model(r) for r in records}


async def update_model(conn: asyncpg.Connection, name: str, changes: dict[str, Any]) -> None:
    """Sets the given descriptive columns of a model; NOT_FOUND if it is missing."""
    assignments = [f"{UPDATABLE_COLUMNS[field]} = ${i}" for i, field in enumerate(changes, start=2)]
    assignments.append("update_time = clock_timestamp()")
    status = await conn.execute(
        f"UPDATE models SET {', '.join(assignments)} WHERE name = $1", name, *changes.values()
    )
    if status.endswith(" 0"):
        raise model_not_found(name)


async def set_limits(
    conn: asyncpg.Connection, name: str, limits: LimitValues, caps: LimitValues
) -> None:
    """Stores the model's limits and caps (validated by gateway.registry.limits)."""
    status = await conn.execute(
        "UPDATE models SET limit_max_queued_jobs = $2, limit_max_queued_records = $3,"
        " limit_user_jobs_per_second = $4, cap_max_queued_jobs = $5,"
        " cap_max_queued_records = $6, cap_user_jobs_per_second = $7,"
        " update_time = clock_timestamp() WHERE name = $1",
        name,
        limits.max_queued_jobs,
        limits.max_queued_records,
        limits.user_jobs_per_second,
        caps.max_queued_jobs,
        caps.max_queued_records,
        caps.user_jobs_per_second,
    )
    if status.endswith(" 0"):
        raise model_not_found(name)


async def touch_model(conn: asyncpg.Connection, name: str) -> None:
    """Records that the model's versions or access changed."""
    await update_model(conn, name, {})


async def delete_model(conn: asyncpg.Connection, name: str) -> None:
    """Deletes a model (its versions go with it); NOT_FOUND if it is missing."""
    status = await conn.execute("DELETE FROM models WHERE name = $1", name)
    if status.endswith(" 0"):
        raise model_not_found(name)


async def set_default_version(conn: asyncpg.Connection, name: str, version: str | None) -> None:
    """Sets or clears (None) a model's default version."""
    await conn.execute(
        "UPDATE models SET default_version = $2, update_time = clock_timestamp() WHERE name = $1",
        name,
        version,
    )


async def insert_version(
    conn: asyncpg.Connection,
    model: str,
    version: str,
    backend_kind: str,
    backend_config: dict[str, Any],
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    notes: str,
) -> VersionRow:
    """Stores a new version; ALREADY_EXISTS if the model has it already."""
    try:
        record = await conn.fetchrow(
            "INSERT INTO model_versions (model, version, backend_kind, backend_config,"
            " input_schema, output_schema, notes) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            f" RETURNING {_VERSION_COLUMNS}",
            model,
            version,
            backend_kind,
            backend_config,
            input_schema,
            output_schema,
            notes,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(
            f"model {model!r} already has a version {version!r}; versions are immutable, "
            "so create a new version string"
        ) from None
    assert record is not None
    return _version(record)


async def get_version(conn: asyncpg.Connection, model: str, version: str) -> VersionRow:
    """One version of a model; NOT_FOUND if it has no such version."""
    record = await conn.fetchrow(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model = $1 AND version = $2",
        model,
        version,
    )
    if record is None:
        raise no_such_version(model, version)
    return _version(record)


def no_such_version(model: str, version: str) -> NotFound:
    """The answer for a version the model does not have."""
    return NotFound(
        f"model {model!r} has no version {version!r}; ListModelVersions shows its versions"
    )


async def version_identities(conn: asyncpg.Connection, model: str) -> dict[str, VersionIdentity]:
    """Each version of model and its row's identity, oldest first."""
    records = await conn.fetch(
        "SELECT version, seq, create_time FROM model_versions WHERE model = $1 ORDER BY seq",
        model,
    )
    return {r["version"]: (r["seq"], r["create_time"]) for r in records}


async def list_versions(
    conn: asyncpg.Connection, model: str, *, after_seq: int, limit: int
) -> list[VersionRow]:
    """Up to limit versions of a model created after the one numbered after_seq."""
    records = await conn.fetch(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions"
        " WHERE model = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        model,
        after_seq,
        limit,
    )
    return [_version(r) for r in records]


async def consensus_dependents(conn: asyncpg.Connection, model: str) -> list[str]:
    """Consensus models with a version whose children include model."""
    rows = await conn.fetch(
        "SELECT DISTINCT model FROM model_versions"
        " WHERE backend_kind = 'consensus' AND backend_config->'children' @> $1::jsonb"
        " AND model <> $2 ORDER BY model",
        [{"model": model}],
        model,
    )
    return [str(r["model"]) for r in rows]
