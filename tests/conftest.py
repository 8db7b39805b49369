"""Real servers for the tests: one throwaway PostgreSQL and one Redis per test session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from gateway.mesh import LocalPostgres, LocalRedis, free_port


def make_scratch_dir(prefix: str) -> Path:
    """A fresh directory under /tmp that the postgres system user can enter.

    pytest's own tmp_path sits under a 0700 directory, which PostgreSQL (run as
    `postgres` when the tests run as root) cannot traverse.
    """
    path = Path(tempfile.mkdtemp(prefix=f"modelgw-{prefix}-", dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    path = make_scratch_dir("test")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """The DSN of a PostgreSQL 15 server that lives as long as the test session."""
    path = make_scratch_dir("pg")
    server = LocalPostgres(path, free_port(), durable=False)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis server (no persistence) that lives as long as the test session."""
    path = make_scratch_dir("redis")
    server = LocalRedis(path, free_port(), persistence=False)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    """The session Redis, emptied (FLUSHALL) before the test."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()
    return redis_url


async def create_database(server_dsn: str, name: str) -> str:
    """A new, empty database on the session server, for tests that must not share one."""
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_dsn.rsplit("/", 1)[0] + f"/{name}"

