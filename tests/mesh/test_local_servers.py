"""LocalPostgres, LocalRedis and LocalRedisCluster start real servers that keep their data."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis
import redis.cluster

from mesh import LocalPostgres, LocalRedis, LocalRedisCluster, free_port, free_port_block

from ..conftest import create_database
from ..harness import redis_once


async def test_postgres_fixture_accepts_connections(postgres_dsn: str) -> None:
    connection = await asyncpg.connect(postgres_dsn)
    try:
        assert await connection.fetchval("SELECT current_user") == "modelgw"
        assert await connection.fetchval("SHOW server_version_num") >= "150000"
    finally:
        await connection.close()


def test_redis_fixture_accepts_connections(clean_redis: str) -> None:
    with redis.Redis.from_url(clean_redis) as client:
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"


def test_clean_redis_starts_empty(clean_redis: str) -> None:
    with redis.Redis.from_url(clean_redis) as client:
        assert client.dbsize() == 0


async def test_create_database_gives_an_empty_database(postgres_server: LocalPostgres) -> None:
    dsn = create_database(postgres_server, "mesh_scratch")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE leftover (id int)")
    finally:
        await connection.close()
    connection = await asyncpg.connect(create_database(postgres_server, "mesh_scratch"))
    try:
        assert await connection.fetchval("SELECT to_regclass('public.leftover')") is None
    finally:
        await connection.close()


async def test_a_second_postgres_is_independent_keeps_its_data_and_stops_clean(
    postgres_dsn: str, scratch_dir: Path
) -> None:
    server = LocalPostgres(scratch_dir, free_port())
    try:
        dsn = server.start()
        assert dsn != postgres_dsn
        connection = await asyncpg.connect(dsn)
        await connection.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('x')")
        await connection.close()
        shared = await asyncpg.connect(postgres_dsn)
        assert await shared.fetchval("SELECT to_regclass('kept')") is None
        await shared.close()

        server.stop()
        assert not (server.pgdata / "postmaster.pid").exists()
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), 1):
            pass

        server.port = free_port()  # the same data directory may move to another port
        connection = await asyncpg.connect(server.start())
        assert await connection.fetchval("SELECT note FROM kept") == "x"
        await connection.close()
    finally:
        server.stop()
    server.stop()  # twice is harmless


# -- authentication ----------------------------------------------------------------

REFUSED = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)


async def _refused(host: str, port: int, user: str, password: str | None, nowhere: Path) -> None:
    """Connecting as `user` with `password` (None: none at all) is refused by PostgreSQL."""
    with pytest.raises(REFUSED):
        connection = await asyncpg.connect(
            host=host, port=port, user=user, password=password, database="postgres",
            passfile=str(nowhere),  # not the caller's ~/.pgpass
        )
        await connection.close()


async def test_every_role_must_authenticate_over_tcp(postgres_dsn: str, tmp_path: Path) -> None:
    port = urlsplit(postgres_dsn).port
    assert port is not None
    nowhere = tmp_path / "no-passfile"
    for user, password in (("postgres", None), ("postgres", "postgres"), ("postgres", ""),
                           ("modelgw", None), ("modelgw", "modelgw"), ("modelgw", "wrong")):
        await _refused("127.0.0.1", port, user, password, nowhere)
    connection = await asyncpg.connect(postgres_dsn)  # the DSN names the gateway's password file
    try:
        assert await connection.fetchval("SELECT current_user") == "modelgw"
    finally:
        await connection.close()


async def test_the_gateway_role_is_not_privileged(postgres_dsn: str) -> None:
    connection = await asyncpg.connect(postgres_dsn)
    try:
        role = await connection.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert not any(role.values()), dict(role)
    finally:
        await connection.close()


def _initdb_as_before(server: LocalPostgres) -> None:
    """A data directory as versions before scram-sha-256 left it: trust for every
    role, and a gateway role with no password but CREATEDB, owning a table with data."""
    server._prepare_dirs()
    server._run("initdb", "-D", str(server.pgdata), "--username=postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C")
    server._pg_ctl("start", "-l", str(server.log_path), "-o", server._server_options())

    async def fill() -> None:
        admin = await asyncpg.connect(host="127.0.0.1", port=server.port, user="postgres", database="postgres")
        await admin.execute("CREATE ROLE modelgw LOGIN CREATEDB")
        await admin.execute("CREATE DATABASE modelgw OWNER modelgw")
        await admin.close()
        gateway = await asyncpg.connect(host="127.0.0.1", port=server.port, user="modelgw", database="modelgw")
        await gateway.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('from before')")
        await gateway.close()

    asyncio.run(fill())
    server.stop()


def test_a_data_dir_with_trust_is_locked_down_at_start(scratch_dir: Path) -> None:
    server = LocalPostgres(scratch_dir, free_port(), durable=False)
    _initdb_as_before(server)
    try:
        dsn = server.start()

        async def check() -> None:
            for user, password in (("postgres", None), ("modelgw", None)):
                await _refused("127.0.0.1", server.port, user, password, scratch_dir / "none")
            # The unix socket too: a password for the gateway role, and `postgres` only
            # for the OS user running the server (`postgres` when the tests run as root).
            await _refused(str(server.socket_dir), server.port, "modelgw", None, scratch_dir / "none")
            if os.geteuid() == 0:
                await _refused(str(server.socket_dir), server.port, "postgres", None, scratch_dir / "none")
            connection = await asyncpg.connect(dsn)
            try:
                assert await connection.fetchval("SELECT note FROM kept") == "from before"
                assert not await connection.fetchval("SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user")
            finally:
                await connection.close()

        asyncio.run(check())
    finally:
        server.stop()


def test_redis_keeps_data_across_restarts(scratch_dir: Path) -> None:
    server = LocalRedis(scratch_dir, free_port())
    try:
        with redis.Redis.from_url(server.start()) as client:
            client.set("kept", "yes")
        server.stop()
        assert (scratch_dir / "dump.rdb").exists()
        with redis.Redis.from_url(server.start()) as client:
            assert client.get("kept") == b"yes"
            assert client.config_get("appendonly") == {"appendonly": "yes"}
    finally:
        server.stop()


def test_second_redis_is_independent(clean_redis: str, scratch_dir: Path) -> None:
    other = LocalRedis(scratch_dir, free_port(), persistence=False)
    try:
        with redis.Redis.from_url(other.start()) as client:
            client.set("only-in-other", 1)
        with redis.Redis.from_url(clean_redis) as client:
            assert client.get("only-in-other") is None
    finally:
        other.stop()
    with pytest.raises(redis.ConnectionError), redis_once(port=other.port) as client:
        client.ping()


def test_redis_cluster_serves_all_slots(redis_cluster: LocalRedisCluster) -> None:
    client = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    try:
        assert len(client.get_primaries()) == 3
        assert len(client.get_replicas()) == 3
        for key in ("a", "b", "c", "{job}:1"):
            client.set(key, key)
            assert client.get(key) == key.encode()
    finally:
        client.close()


def test_redis_requires_its_password(scratch_dir: Path) -> None:
    server = LocalRedis(scratch_dir, free_port(), persistence=False)
    try:
        url = server.start()
        assert stat.S_IMODE(server.password_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(server.config_path.stat().st_mode) == 0o600
        anonymous = redis_once(host="127.0.0.1", port=server.port)
        with anonymous, pytest.raises(redis.AuthenticationError):
            anonymous.set("k", "v")
        guesser = redis_once(host="127.0.0.1", port=server.port, password="guess")
        with guesser, pytest.raises(redis.AuthenticationError):
            guesser.ping()
        with redis.Redis.from_url(url) as client:
            assert client.ping()
            # Full is full: writes refused, nothing evicted.
            assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
            assert client.config_get("maxmemory") == {"maxmemory": str(1024**3)}
        assert "password" not in server.display_url and server.password_path.read_text() not in server.display_url
    finally:
        server.stop()


def test_free_ports_lie_below_the_ephemeral_range() -> None:
    """Outgoing connections take ephemeral ports: a test server's port must not be one."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert all(10_000 <= port < low for port in ports) and len(ports) > 40
    base = free_port_block(LocalRedisCluster.SIZE, offset=10_000)
    assert base + 10_000 + LocalRedisCluster.SIZE <= low
