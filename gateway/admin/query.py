"""QueryModelDatabase: one SQL statement in a READ ONLY transaction.

PostgreSQL, not this module, decides what is a write: the transaction is
declared READ ONLY and a snapshot is taken before the caller's statement
runs, so it cannot switch the transaction back to read-write. The statement
runs under a statement timeout and at most max_rows + 1 rows are fetched.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument

MAX_SQL = 100_000


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


async def run_read_only(
    conn: asyncpg.Connection, sql: str, *, max_rows: int, timeout_s: float
) -> QueryResult:
    if not sql.strip():
        raise InvalidArgument("sql is required: one SQL statement, e.g. 'SELECT name FROM models'")
    if len(sql) > MAX_SQL:
        raise InvalidArgument(f"sql is {len(sql)} characters long; the limit is {MAX_SQL}")
    try:
        async with conn.transaction(readonly=True):
            # A SELECT first: it takes the snapshot, after which the transaction
            # can no longer be made read-write.
            await conn.execute(
                "SELECT set_config('statement_timeout', $1, true)", f"{int(timeout_s * 1000)}ms"
            )
            statement = await conn.prepare(sql)
            columns = [a.name for a in statement.get_attributes()]
            fetched = await statement.fetch() if not columns else await _fetch(statement, max_rows)
    except asyncpg.ReadOnlySQLTransactionError as exc:
        raise FailedPrecondition(
            f"the statement tried to write ({exc}): QueryModelDatabase runs in a READ ONLY "
            "transaction; change the registry through the RegistryService or the catalog"
        ) from None
    except asyncpg.QueryCanceledError:
        raise DeadlineExceeded(
            f"the statement ran longer than the {timeout_s:g} s limit (MODELGW_QUERY_TIMEOUT)"
        ) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise InvalidArgument(f"the statement failed: {type(exc).__name__}: {exc}") from None
    rows = [[_jsonable(v) for v in record.values()] for record in fetched[:max_rows]]
    return QueryResult(columns, rows, truncated=len(fetched) > max_rows)


async def _fetch(statement: asyncpg.prepared_stmt.PreparedStatement, max_rows: int) -> list[Any]:
    cursor = await statement.cursor()
    rows: list[Any] = await cursor.fetch(max_rows + 1)
    return rows


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
