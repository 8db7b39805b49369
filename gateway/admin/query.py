"""QueryModelDatabase: one SQL statement, as the console's own role, read only.

The statement runs on a connection opened for it and closed after, so nothing
it leaves in its session (settings, LISTEN, locks) outlives it, logged in as a
role of its own (modelgw_query, see gateway/registry/bootstrap.sql) that may
read the registry's tables and nothing more: PostgreSQL, not this module,
decides what it may do. Its transaction is declared READ ONLY and a snapshot is
taken before the caller's statement runs, so it cannot be made read-write, and
it is never committed: closing the connection rolls it back, which drops
whatever the statement queued for commit (a NOTIFY, for one). The statement
runs under a statement timeout and a lock timeout; rows come through a cursor
in small chunks, and fetching stops at max_rows or at max_bytes of rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import ipaddress
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.errors import (
    ApiError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
)
from gateway.registry.database import init_connection

log = logging.getLogger("modelgw.admin.query")

MAX_SQL = 100_000
# The connection's own limit on every command lies this far past the statement
# timeout, so that PostgreSQL cancels first and the caller gets DEADLINE_EXCEEDED.
_COMMAND_GRACE_S = 5.0
_LOCK_TIMEOUT_S = 1.0
_CLOSE_TIMEOUT_S = 2.0
# Rows fetched at once: one at first, then as many as the bytes left would hold
# at the largest row seen so far, never more than this.
_MAX_CHUNK = 100
# Bytes counted for each value and row beyond its payload: more than protobuf's
# framing takes, so that the reply stays within the cap.
_OVERHEAD = 16


@dataclass(frozen=True)
class Limits:
    """What one console statement may take: rows, bytes, time."""

    max_rows: int
    max_bytes: int
    timeout_s: float
    connect_timeout_s: float


@dataclass(frozen=True)
class QueryResult:
    """A console statement's columns and rows, and whether they were cut at a limit."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


async def run_read_only(dsn: str, sql: str, limits: Limits) -> QueryResult:
    """Runs `sql` as the role `dsn` logs in as; raises an ApiError saying why not."""
    if not sql.strip():
        raise InvalidArgument("sql is required: one SQL statement, e.g. 'SELECT name FROM models'")
    if len(sql) > MAX_SQL:
        raise InvalidArgument(f"sql is {len(sql)} characters long; the limit is {MAX_SQL}")
    conn = await _connect(dsn, limits)
    try:
        return await _run(conn, sql, limits)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise _statement_error(exc, limits.timeout_s) from None
    finally:
        await _close(conn)


async def _connect(dsn: str, limits: Limits) -> asyncpg.Connection:
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            dsn,
            timeout=limits.connect_timeout_s,
            command_timeout=limits.timeout_s + _COMMAND_GRACE_S,
            statement_cache_size=0,
            server_settings={"application_name": "modelgw-sql-console"},
        )
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError) as exc:
        raise FailedPrecondition(
            f"the SQL console cannot log in to PostgreSQL ({exc}): check "
            "MODELGW_QUERY_DATABASE_URL and its role (gateway/registry/bootstrap.sql)"
        ) from None
    except asyncpg.TooManyConnectionsError:
        raise Unavailable(
            "the SQL console's role has all its connections in use (its CONNECTION LIMIT); "
            "retry when the other console queries have finished"
        ) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise Unavailable(
            f"the SQL console cannot reach PostgreSQL ({type(exc).__name__}); retry shortly"
        ) from None
    await init_connection(conn)
    return conn


async def _run(conn: asyncpg.Connection, sql: str, limits: Limits) -> QueryResult:
    await conn.execute("BEGIN READ ONLY")
    # A SELECT first: it takes the snapshot, after which the transaction can no
    # longer be made read-write.
    await conn.execute(
        "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)",
        _ms(limits.timeout_s),
        _ms(min(_LOCK_TIMEOUT_S, limits.timeout_s)),
    )
    statement = await conn.prepare(sql)
    columns = [a.name for a in statement.get_attributes()]
    if not columns:
        await statement.fetch()
        return QueryResult([], [], truncated=False)
    return await _fetch(statement, columns, limits)


async def _fetch(
    statement: asyncpg.prepared_stmt.PreparedStatement, columns: list[str], limits: Limits
) -> QueryResult:
    """Rows until max_rows or max_bytes; one more row fetched tells if there were more.

    A row is converted as soon as it arrives and the chunks stay small, so the
    server holds about one reply's worth of rows, plus one row however large.
    """
    cursor = await statement.cursor()
    rows: list[list[Any]] = []
    budget = limits.max_bytes - _size(columns)
    largest, chunk = 0, 1
    while True:
        wanted = min(chunk, limits.max_rows + 1 - len(rows))
        batch = await cursor.fetch(wanted)
        for record in batch:
            if len(rows) == limits.max_rows:
                return QueryResult(columns, rows, truncated=True)
            row = [_jsonable(v) for v in record.values()]
            size = _size(row)
            if size > budget:
                return QueryResult(columns, rows, truncated=True)
            rows.append(row)
            budget -= size
            largest = max(largest, size)
        if len(batch) < wanted:
            return QueryResult(columns, rows, truncated=False)
        chunk = max(1, min(_MAX_CHUNK, budget // largest))


def _statement_error(exc: Exception, timeout_s: float) -> ApiError:
    """What the caller is told when the statement fails."""
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return FailedPrecondition(
            f"the statement tried to write ({exc}): QueryModelDatabase runs in a READ ONLY "
            "transaction; change the registry through the RegistryService or the catalog"
        )
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return PermissionDenied(
            f"the SQL console's role may not do that ({exc}): it reads the registry's tables, "
            "and may not lock them, signal other sessions, notify or take advisory locks"
        )
    if isinstance(exc, (asyncpg.QueryCanceledError, TimeoutError)):
        return DeadlineExceeded(
            f"the statement ran longer than the {timeout_s:g} s limit (MODELGW_QUERY_TIMEOUT)"
        )
    if isinstance(exc, asyncpg.LockNotAvailableError):
        return Unavailable(
            f"the statement waited too long for a lock ({exc}): a catalog reset or a "
            "migration holds the registry's tables; retry shortly"
        )
    lost = (OSError, asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError)
    if isinstance(exc, lost):
        return Unavailable(f"the SQL console lost its connection ({exc}); retry shortly")
    return InvalidArgument(f"the statement failed: {type(exc).__name__}: {exc}")


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=_CLOSE_TIMEOUT_S)
    except (asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        # asyncpg has aborted the connection instead: the transaction ends all the same.
        log.warning("sql console connection aborted", extra={"fields": {"error": repr(exc)}})


def _ms(seconds: float) -> str:
    return f"{max(int(seconds * 1000), 1)}ms"


def _size(value: Any) -> int:
    """An upper bound on the bytes a JSON value takes in the reply."""
    if isinstance(value, str):
        return _OVERHEAD + (len(value) if value.isascii() else len(value.encode()))
    if isinstance(value, dict):
        return _OVERHEAD + sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, list):
        return _OVERHEAD + sum(_size(v) for v in value)
    return _OVERHEAD


def _jsonable(value: Any) -> Any:
    """A column value as a JSON value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
