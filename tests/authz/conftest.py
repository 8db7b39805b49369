"""Fixtures for the authz tests: a database of their own on the session's PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.registry.database import migrate, open_pool

from ..conftest import create_database


async def _database_with_schema(server_dsn: str) -> str:
    # Its own database: these tests empty casbin_rule, which the gateway tests use.
    dsn = await create_database(server_dsn, "authz_tests")
    pool = await open_pool(dsn, min_size=1, max_size=1, timeout_s=10)
    try:
        await migrate(pool)
    finally:
        await pool.close()
    return dsn


@pytest.fixture(scope="session")
def postgres_dsn(postgres_dsn: str) -> str:
    """Overrides the session fixture: the authz database, registry schema applied."""
    return asyncio.run(_database_with_schema(postgres_dsn))


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on an empty casbin_rule table."""
    async with asyncpg.create_pool(postgres_dsn, min_size=1, max_size=5) as pool:
        await pool.execute("TRUNCATE casbin_rule")
        yield pool
