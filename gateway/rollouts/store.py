"""The rollouts table's SQL (migration 0009): every query on rollouts, and nothing else.

Every change is a row change, so the audit outbox's trigger records it with the
actor the transaction named (audit.outbox.set_actor), and the registry's NOTIFY
trigger tells the execution servers their split changed, both on commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    model_not_found,
)
from rollouts.plan import Plan

ACTIVE, PROMOTED, ROLLED_BACK = "active", "promoted", "rolled_back"

_COLUMNS = (
    "id, model, baseline, candidate, strategy, state, percent, plan, started_by, start_time,"
    " step_time, ended_by, end_time, end_reason, figures, steps"
)


@dataclass(frozen=True)
class RolloutRow:
    """A rollout as stored."""

    id: uuid.UUID
    model: str
    baseline: str
    candidate: str
    strategy: str
    state: str
    percent: float
    plan: dict[str, Any]
    started_by: str
    start_time: dt.datetime
    step_time: dt.datetime
    ended_by: str
    end_time: dt.datetime | None
    end_reason: str
    figures: dict[str, Any]
    steps: list[dict[str, Any]]

    @property
    def parsed_plan(self) -> Plan:
        """The plan as rollouts.plan reads it."""
        return Plan.from_dict(self.plan)


@dataclass(frozen=True)
class ModelVersions:
    """What a rollout needs of its model: the version it resolves to, and all of them."""

    default_version: str | None
    versions: list[str]

    @property
    def resolved(self) -> str | None:
        """The default version, else the latest; None without versions."""
        return self.default_version or (self.versions[-1] if self.versions else None)


def _row(record: asyncpg.Record) -> RolloutRow:
    return RolloutRow(**dict(record))


def step_entry(actor: str, percent: float, note: str, figures: dict[str, Any]) -> dict[str, Any]:
    """One entry of a rollout's steps, with the figures it was taken on."""
    now = dt.datetime.now(dt.UTC).isoformat()
    return {"time": now, "percent": percent, "actor": actor, "note": note, "figures": figures}


async def model_versions(conn: asyncpg.Connection, model: str) -> ModelVersions:
    """The model's default and versions, its row held FOR SHARE until the transaction
    ends: SetDefaultVersion (FOR UPDATE) waits, while starts on it may go on together."""
    record = await conn.fetchrow(
        "SELECT m.default_version, COALESCE((SELECT array_agg(v.version ORDER BY v.seq)"
        " FROM model_versions v WHERE v.model = m.name), '{}') AS versions"
        " FROM models m WHERE m.name = $1 FOR SHARE OF m",
        model,
    )
    if record is None:
        raise model_not_found(model)
    return ModelVersions(record["default_version"], list(record["versions"]))


async def insert(
    conn: asyncpg.Connection,
    model: str,
    baseline: str,
    candidate: str,
    plan: Plan,
    actor: str,
) -> RolloutRow:
    """A new active rollout; ALREADY_EXISTS naming the active one when the model has one.

    The partial unique index decides between concurrent starts, on any server: the
    loser's insert waits for the winner's commit, then fails here.
    """
    percent = plan.initial_percent
    first = step_entry(actor, percent, "started", {})
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives
            record = await conn.fetchrow(
                "INSERT INTO rollouts (id, model, baseline, candidate, strategy, state, percent,"
                " plan, started_by, steps) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9)"
                f" RETURNING {_COLUMNS}",
                uuid.uuid4(),
                model,
                baseline,
                candidate,
                plan.strategy.value,
                percent,
                plan.as_dict(),
                actor,
                [first],
            )
    except asyncpg.UniqueViolationError:
        winner = await active(conn, model)
        named = f" ({_described(winner)})" if winner else ""
        raise AlreadyExists(
            f"model {model!r} already has an active rollout{named}; promote or roll it back "
            "before starting another"
        ) from None
    assert record is not None
    return _row(record)


def _described(row: RolloutRow) -> str:
    return f"{row.id}: {row.candidate} against {row.baseline}, started by {row.started_by}"


async def active(conn: asyncpg.Connection, model: str, *, lock: bool = False) -> RolloutRow | None:
    """The model's active rollout, or None; lock=True holds its row until the
    transaction ends (the controller's tick waits, or skips it)."""
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM rollouts WHERE model = $1 AND state = 'active'"
        + (" FOR UPDATE" if lock else ""),
        model,
    )
    return None if record is None else _row(record)


async def require_active(conn: asyncpg.Connection, model: str) -> RolloutRow:
    """The model's active rollout, locked; FAILED_PRECONDITION without one."""
    row = await active(conn, model, lock=True)
    if row is None:
        raise FailedPrecondition(
            f"model {model!r} has no active rollout; ListRollouts shows the ended ones"
        )
    return row


async def refuse_if_active(conn: asyncpg.Connection, model: str, change: str) -> None:
    """FAILED_PRECONDITION when the model has an active rollout: `change` (such as
    "change its default version") would pull the versions from under it."""
    row = await active(conn, model)
    if row is not None:
        raise FailedPrecondition(
            f"model {model} has an active rollout ({_described(row)}), so you cannot {change}; "
            "promote or roll it back first (RolloutService.PromoteRollout or RollBackRollout)"
        )


async def get(conn: asyncpg.Connection, model: str, rollout_id: str) -> RolloutRow:
    """One rollout of the model by id; NOT_FOUND if the model has no such rollout."""
    try:
        key = uuid.UUID(rollout_id)
    except ValueError:
        raise InvalidArgument(
            f"rollout_id {rollout_id[:80]!r} is not a UUID: pass a rollout's id, or empty for "
            "the model's active (else latest) rollout",
            "rollout_id",
        ) from None
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM rollouts WHERE model = $1 AND id = $2", model, key
    )
    if record is None:
        raise NotFound(f"model {model!r} has no rollout {rollout_id}; ListRollouts shows its own")
    return _row(record)


async def current(conn: asyncpg.Connection, model: str) -> RolloutRow:
    """The active rollout, else the latest; NOT_FOUND if the model never had one."""
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM rollouts WHERE model = $1"
        " ORDER BY state = 'active' DESC, start_time DESC, id DESC LIMIT 1",
        model,
    )
    if record is None:
        raise NotFound(f"model {model!r} has had no rollouts; StartRollout starts one")
    return _row(record)


async def history(
    conn: asyncpg.Connection,
    model: str,
    *,
    before: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[RolloutRow]:
    """Up to limit rollouts of the model, newest first, older than the cursor."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM rollouts WHERE model = $1"
        " AND ($2::timestamptz IS NULL OR (start_time, id) < ($2, $3))"
        " ORDER BY start_time DESC, id DESC LIMIT $4",
        model,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_row(r) for r in records]


async def active_ids(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Every active rollout's id, oldest first."""
    records = await conn.fetch("SELECT id FROM rollouts WHERE state = 'active' ORDER BY start_time")
    return [r["id"] for r in records]


async def claim(conn: asyncpg.Connection, rollout_id: uuid.UUID) -> RolloutRow | None:
    """The active rollout of that id, locked, or None when it ended or another admin
    replica (or a person's call) holds it: they never step one rollout twice."""
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM rollouts WHERE id = $1 AND state = 'active'"
        " FOR UPDATE SKIP LOCKED",
        rollout_id,
    )
    return None if record is None else _row(record)


async def step(
    conn: asyncpg.Connection, row: RolloutRow, percent: float, entry: dict[str, Any]
) -> None:
    """Moves an active rollout's share, appending the step."""
    await conn.execute(
        "UPDATE rollouts SET percent = $2, step_time = clock_timestamp(),"
        " steps = steps || $3::jsonb WHERE id = $1",
        row.id,
        percent,
        [entry],
    )


async def end(
    conn: asyncpg.Connection,
    row: RolloutRow,
    *,
    state: str,
    actor: str,
    reason: str,
    figures: dict[str, Any],
) -> RolloutRow:
    """Ends an active rollout: promoted (share 100) or rolled back (share 0)."""
    percent = 100.0 if state == PROMOTED else 0.0
    entry = step_entry(actor, percent, f"{state.replace('_', ' ')}: {reason}", figures)
    record = await conn.fetchrow(
        "UPDATE rollouts SET state = $2, percent = $3, step_time = clock_timestamp(),"
        " ended_by = $4, end_time = clock_timestamp(), end_reason = $5, figures = $6,"
        f" steps = steps || $7::jsonb WHERE id = $1 RETURNING {_COLUMNS}",
        row.id,
        state,
        percent,
        actor,
        reason,
        figures,
        [entry],
    )
    assert record is not None
    return _row(record)
