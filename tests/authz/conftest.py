"""Fixtures for the authz tests.

TEMPORARY: the `postgres_dsn` fixture below starts a private throwaway
PostgreSQL 15 until the project's shared launcher fixture exists; replace it
with that one (it only needs to yield a DSN of a database with the registry
migration applied).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

_BIN = Path("/usr/lib/postgresql/15/bin")
_MIGRATION = Path(__file__).parents[2] / "gateway/registry/migrations/0001_registry.sql"


def _as_postgres(*args: str) -> None:
    # PostgreSQL refuses to run as root.
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """TEMPORARY: a throwaway PostgreSQL with the registry migration applied."""
    root = Path(tempfile.mkdtemp(prefix="authz-pg-"))
    root.chmod(0o755)
    shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    _as_postgres(str(_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-N")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    _as_postgres(
        str(_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start"
    )
    try:
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        sql = _MIGRATION.read_text()
        subprocess.run(
            [str(_BIN / "psql"), dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True,
            capture_output=True,
        )
        yield dsn
    finally:
        _as_postgres(str(_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on an empty casbin_rule table."""
    async with asyncpg.create_pool(postgres_dsn, min_size=1, max_size=5) as pool:
        await pool.execute("TRUNCATE casbin_rule")
        yield pool
