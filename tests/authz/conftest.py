"""Fixtures for the authz tests: a database of their own on the session's PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.registry.database import migrate, open_pool
from mesh import LocalPostgres

from ..conftest import create_database


async def _migrate(dsn: str) -> None:
    pool = await open_pool(dsn, min_size=1, max_size=1, timeout_s=10)
    try:
        await migrate(pool)
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: LocalPostgres) -> str:
    """Overrides the session fixture: the authz database, registry schema applied."""
    # Its own database: these tests empty casbin_rule, which the gateway tests use.
    dsn = create_database(postgres_server, "authz_tests")
    asyncio.run(_migrate(dsn))
    return dsn


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on an empty casbin_rule table."""
    async with asyncpg.create_pool(postgres_dsn, min_size=1, max_size=5) as pool:
        await pool.execute("TRUNCATE casbin_rule")
        yield pool
