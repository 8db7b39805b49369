"""The registry side of the audit log: the modelgw_audit.outbox table.

Row changes to models, versions and grants are recorded by triggers
(migration 0002) in the transaction that makes them; a write transaction
names its actor first with `set_actor`. Admin actions add their own record
with `record_admin`, also inside their transaction. The shipper takes rows
with `take` and deletes them once they are spooled.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from settings import logs


async def set_actor(conn: asyncpg.Connection, user: str) -> None:
    """Names who makes the changes of the current transaction (for the triggers)."""
    await conn.execute(
        "SELECT set_config('modelgw.actor', $1, true), set_config('modelgw.request_id', $2, true)",
        user,
        logs.request_id.get(),
    )


async def record_admin(
    conn: asyncpg.Connection, actor: str, operation: str, before: Any, after: Any
) -> None:
    """Records an admin action in the current transaction."""
    await conn.execute(
        "INSERT INTO modelgw_audit.outbox (actor, request_id, subject, operation, before, after)"
        " VALUES ($1, $2, 'admin', $3, $4, $5)",
        actor,
        logs.request_id.get(),
        operation,
        before,
        after,
    )


async def take(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    """Up to limit records, oldest first, locked until the caller's transaction ends
    (other shippers skip them)."""
    rows = await conn.fetch(
        "SELECT id, time, actor, request_id, subject, operation, before, after"
        " FROM modelgw_audit.outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [_record(r) for r in rows]


async def delete(conn: asyncpg.Connection, ids: list[int]) -> None:
    await conn.execute("DELETE FROM modelgw_audit.outbox WHERE id = ANY($1::bigint[])", ids)


def _record(row: asyncpg.Record) -> dict[str, Any]:
    time: dt.datetime = row["time"]
    return {
        "type": "registry" if row["subject"] != "admin" else "admin",
        "id": f"outbox-{row['id']}",
        "outbox_id": row["id"],
        "time": time.astimezone(dt.UTC).isoformat(),
        "actor": row["actor"],
        "request_id": row["request_id"],
        "subject": row["subject"],
        "operation": row["operation"],
        "before": _json(row["before"]),
        "after": _json(row["after"]),
    }


def _json(value: Any) -> Any:
    # The pool's codec decodes jsonb; a connection without it yields text.
    return json.loads(value) if isinstance(value, str) else value
