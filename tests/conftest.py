"""Real servers for the tests: one throwaway PostgreSQL and one Redis per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest
import redis
from hypothesis import HealthCheck, settings

from gateway.config import METRICS_PORTS
from mesh import (
    LocalPostgres,
    LocalRedis,
    LocalRedisCluster,
    MeshError,
    free_port,
    free_port_block,
)
from tests.harness import SERVICES, Mesh, serving, spawn_modelgw, stop_process

# Property tests check what code returns, not how fast: on two busy cores one example
# can pass hypothesis's 200 ms default deadline and fail a correct test at random.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


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


class _Server(Protocol):
    def start(self) -> str: ...
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Server)


def _for_the_session(prefix: str, make: Callable[[Path], S]) -> Iterator[S]:
    """The server `make` builds in a fresh scratch directory, started; at the end
    stopped, and its directory removed. `make` picks its ports: a server whose port
    was taken before it bound it (by another test run on the machine) is made again."""
    path = make_scratch_dir(prefix)
    try:
        for attempt in range(3):
            server = make(path)
            try:
                server.start()
                break
            except MeshError as failed:
                if "Address already in use" not in str(failed) or attempt == 2:
                    raise
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A PostgreSQL 15 server that lives as long as the test session."""
    yield from _for_the_session("pg", lambda path: LocalPostgres(path, free_port(), durable=False))


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: LocalPostgres) -> str:
    """The gateway role's DSN for the session server's gateway database."""
    return postgres_server.dsn


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis server (no persistence) that lives as long as the test session."""
    for server in _for_the_session("redis", lambda path: LocalRedis(path, free_port(), persistence=False)):
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A six-node Redis Cluster (three masters, three replicas) for the session."""
    yield from _for_the_session(
        "cluster",
        lambda path: LocalRedisCluster(path, free_port_block(LocalRedisCluster.SIZE, offset=10_000)),
    )


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    """The session Redis, emptied (FLUSHALL) before the test."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()
    return redis_url


def create_database(server: LocalPostgres, name: str) -> str:
    """A new, empty database on the session server, for tests that must not share one.

    Made by the superuser (the gateway role may not create databases); returns
    the gateway role's DSN for it.
    """
    return server.recreate_database(name)


@pytest.fixture(scope="session")
def mesh(
    postgres_server: LocalPostgres,
    postgres_dsn: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Mesh]:
    """The three gateway servers as processes against the session's PostgreSQL and Redis."""
    home = tmp_path_factory.mktemp("modelgw-home")
    ports = {s: free_port() for s in SERVICES}
    env = {
        **os.environ,
        "MODELGW_HOME": str(home),
        "MODELGW_DATABASE_URL": postgres_dsn,
        "MODELGW_QUERY_DATABASE_URL": postgres_server.query_dsn,
        "MODELGW_REDIS_URL": redis_url,
        "MODELGW_SHUTDOWN_GRACE": "5",
        "MODELGW_WATCH_HEARTBEAT": "1",
        "MODELGW_LEASE_SECONDS": "3",
        # Workers announce themselves twice a second (live for 1.5 s after the last
        # announcement), and a job warns after 2 s without a worker of its model.
        "MODELGW_WORKER_PRESENCE_SECONDS": "0.5",
        "MODELGW_NO_WORKER_WARNING_SECONDS": "2",
        "MODELGW_QUEUE_PLACE_SECONDS": "0",  # every read of a place reaches Redis
        # The rollout controller passes five times a second, so that a rollout's
        # schedule of a second or two plays out within a test.
        "MODELGW_ROLLOUT_TICK_SECONDS": "0.2",
        # The operator's allow-list of the session: the built-in models, the test models
        # of tests/gateway/execution (which fail, sleep and check records on purpose) and this
        # interpreter as a command, so that subprocess versions can be registered.
        "MODELGW_ALLOWED_CALLABLES": "workers.builtin,tests.gateway.execution",
        "MODELGW_ALLOWED_COMMANDS": sys.executable,
        **{f"MODELGW_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        # Every process's /metrics off, unless a test asks (the servers below do).
        **{f"MODELGW_{s.upper()}_METRICS_PORT": "0" for s in METRICS_PORTS},
    }
    mesh = Mesh(
        env=env,
        addresses={s: f"127.0.0.1:{p}" for s, p in ports.items()},
        logs={s: home / f"{s}.log" for s in SERVICES},
        metrics_ports={s: free_port() for s in SERVICES},
    )
    with serving(mesh, SERVICES):
        yield mesh

@pytest.fixture(scope="session")
def builtin_worker(mesh: Mesh) -> Iterator[subprocess.Popen[bytes]]:
    """The built-in models as `make up` provides them: `modelgw builtins register` (with
    the mesh's signing key), then `modelgw worker --builtins` running them."""
    from modelgateway.v1 import registry_pb2

    register = spawn_modelgw(mesh, ["builtins", "register"], "builtins-register")
    assert register.wait(timeout=60) == 0, "modelgw builtins register failed"
    su = mesh.metadata("root", superuser=True)
    model = mesh.registry().GetModel(registry_pb2.GetModelRequest(name="demo.echo"), metadata=su)
    assert model.model.resolved_version, "built-in models were not registered"
    process = spawn_modelgw(mesh, ["worker", "--builtins", "--drain-grace", "2"], "builtin-worker")
    time.sleep(0.5)
    assert process.poll() is None, "the built-in worker exited"
    yield process
    stop_process(process)


@pytest.fixture(scope="session")
def scheduler_process(mesh: Mesh) -> Iterator[subprocess.Popen[bytes]]:
    """`modelgw scheduler`, which also runs consensus jobs."""
    process = spawn_modelgw(mesh, ["scheduler", "--interval", "5"], "scheduler")
    yield process
    stop_process(process)
