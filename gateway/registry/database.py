"""The registry's PostgreSQL: the connection pool and the schema migrations."""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import resources

import asyncpg

log = logging.getLogger("modelgw.database")

# Serialises migrations when several servers start at once on a fresh database.
_MIGRATION_LOCK_KEY = 0x6D6F64656C6777  # "modelgw"


async def init_connection(conn: asyncpg.Connection) -> None:
    """JSON and JSONB columns as Python values, on every connection to the registry."""
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def open_pool(
    dsn: str, *, min_size: int, max_size: int, timeout_s: float, wait_s: float = 60.0
) -> asyncpg.Pool:
    """Opens the pool, waiting up to wait_s for a database that is still starting."""
    deadline = asyncio.get_running_loop().time() + wait_s
    delay = 0.2
    while True:
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout_s,
                command_timeout=timeout_s,
                init=init_connection,
            )
            return pool
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
            log.warning(
                "database not reachable yet; retrying", extra={"fields": {"error": str(exc)}}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Applies the SQL migrations not yet applied, in order; returns their names."""
    async with pool.acquire() as conn, conn.transaction():
        applied = await migrate_in(conn)
    if applied:
        log.info("migrated", extra={"fields": {"applied": applied}})
    return applied


async def migrate_in(conn: asyncpg.Connection) -> list[str]:
    """Applies the pending migrations in the caller's transaction; returns their names."""
    files = sorted(
        (
            f
            for f in resources.files("gateway.registry.migrations").iterdir()
            if f.name.endswith(".sql")
        ),
        key=lambda f: f.name,
    )
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_KEY)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
    applied: list[str] = []
    for file in files:
        if file.name in done:
            continue
        await conn.execute(file.read_text())
        await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", file.name)
        applied.append(file.name)
    return applied
