"""The supervisor starts its parts in order, reports a failing child, restarts one that
dies later, gives up on one that keeps crashing, and stops them all."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import redis

from mesh import MeshError, free_port
from mesh.process import wait_until
from mesh.services import Service, grpc_serving
from mesh.supervisor import Mesh, MeshConfig, summary
from tests.harness import redis_once

from ._launch import Supervisor, supervisor

# A stand-in gateway server: grpc.health.v1 on $FAKE_PORT (or the variable named
# by its argument), given the mesh's env.
FAKE_SERVER = textwrap.dedent(
    """
    import os, signal, sys
    from concurrent import futures
    import grpc
    from grpc_health.v1 import health, health_pb2_grpc
    assert os.environ["MODELGW_DATABASE_URL"].startswith("postgresql://modelgw@")
    assert os.environ["MODELGW_REDIS_URL"].startswith("redis://:")  # with its password
    server = grpc.server(futures.ThreadPoolExecutor(2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port("127.0.0.1:" + os.environ[(sys.argv[1:] or ["FAKE_PORT"])[0]])
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()
    """
)

# A fake server that notes each start (its pid) in $FAKE_STARTS and says so in its
# log; with $FAKE_CRASH_AGAIN set, every start after the first exits 3 at once.
NOTED_SERVER = textwrap.dedent(
    """
    import os, sys
    with open(os.environ["FAKE_STARTS"], "a") as starts:
        starts.write(f"{os.getpid()}\\n")
    print("fake started as", os.getpid(), flush=True)
    with open(os.environ["FAKE_STARTS"]) as starts:
        if os.environ.get("FAKE_CRASH_AGAIN") and len(starts.read().split()) > 1:
            print("cannot come back", flush=True)
            sys.exit(3)
    """
) + FAKE_SERVER

# run_mesh on one fake service; an optional last argument is the RestartPolicy as JSON.
RUN_MESH = textwrap.dedent(
    """
    import json, sys
    from dataclasses import replace
    from pathlib import Path
    from mesh.services import Service
    from mesh.supervisor import MeshConfig, run_mesh
    home, pg, rd, port, script, *policy = sys.argv[1:]
    service = Service("fake", "FAKE_PORT", int(port), command=(sys.executable, "-c", script))
    config = MeshConfig(Path(home), pg_port=int(pg), redis_port=int(rd),
                        service_ports={"FAKE_PORT": int(port)})
    if policy:
        from mesh.restarts import RestartPolicy
        config = replace(config, restarts=RestartPolicy(**json.loads(policy[0])))
    sys.exit(run_mesh(config, [service]))
    """
)


def _config(home: Path, fake_port: int) -> MeshConfig:
    return MeshConfig(
        home,
        pg_port=free_port(),
        redis_port=free_port(),
        service_ports={"FAKE_PORT": fake_port},
        start_timeout=20,
    )


def _fake(port: int, script: str = FAKE_SERVER) -> Service:
    return Service("fake", "FAKE_PORT", port, command=(sys.executable, "-c", script))


def test_config_rejects_a_bad_port() -> None:
    with pytest.raises(MeshError, match="MODELGW_PG_PORT"):
        MeshConfig.from_env({"MODELGW_PG_PORT": "five"})


def test_redis_maxmemory_is_a_size() -> None:
    assert MeshConfig.from_env({"MODELGW_REDIS_MAXMEMORY": "512MB"}).redis_maxmemory == "512mb"
    for bad in ("lots", "0", "-1gb"):
        with pytest.raises(MeshError, match="MODELGW_REDIS_MAXMEMORY"):
            MeshConfig.from_env({"MODELGW_REDIS_MAXMEMORY": bad})


def test_config_defaults() -> None:
    config = MeshConfig.from_env({})
    assert (config.pg_port, config.redis_port) == (55432, 56379)
    assert config.service_ports["MODELGW_REGISTRY_PORT"] == 50051
    assert config.home == Path(".modelgw").absolute()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def _started(make: Callable[[], Mesh]) -> Mesh:
    """make()'s mesh, started; made again (its ports are picked anew) when a port it
    was given was taken before the mesh bound it, twice at the most."""
    for attempt in range(3):
        mesh = make()
        try:
            mesh.start()
            return mesh
        except MeshError as failed:
            mesh.stop()
            if attempt == 2 or "Address already in use" not in str(failed):
                raise
    raise AssertionError("unreachable")


def _with_console(home: Path) -> Mesh:
    port, console_port = free_port(), free_port()
    config = replace(_config(home, port), service_ports={"FAKE_PORT": port, "CONSOLE_PORT": console_port})
    console = Service("console", "CONSOLE_PORT", console_port,
                      command=(sys.executable, "-c", FAKE_SERVER, "CONSOLE_PORT"), sql_console=True)
    return Mesh(config, [_fake(port), console])


def test_mesh_starts_and_stops_everything(scratch_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Set in the supervisor's own environment: still not passed on to the others.
    monkeypatch.setenv("MODELGW_QUERY_DATABASE_URL", "postgresql://modelgw_query@elsewhere/x")
    mesh = _started(lambda: _with_console(scratch_dir))
    port, console_port = (mesh.config.service_ports[name] for name in ("FAKE_PORT", "CONSOLE_PORT"))
    try:
        assert grpc_serving("127.0.0.1", port) and grpc_serving("127.0.0.1", console_port)
        # The DSNs handed out and printed name the password files, never the passwords.
        passwords = [mesh.postgres.passfile(role).read_text().strip().rsplit(":", 1)[1]
                     for role in ("modelgw", "modelgw_query")]
        assert all(len(p) >= 32 for p in passwords)
        plain, with_console = (_environ(mesh.children[name].pid) for name in ("fake", "console"))
        assert plain["MODELGW_DATABASE_URL"] == with_console["MODELGW_DATABASE_URL"] == mesh.postgres.dsn
        # Only the service running the SQL console gets its role's DSN.
        assert "MODELGW_QUERY_DATABASE_URL" not in plain
        assert with_console["MODELGW_QUERY_DATABASE_URL"] == mesh.postgres.query_dsn
        for password in passwords:
            assert password not in "".join(plain.values()) + "".join(with_console.values())
            assert password not in summary(mesh)
        # Other users (the worker's) may go through MODELGW_HOME but not read job data.
        assert stat.S_IMODE(scratch_dir.stat().st_mode) == 0o711
        for private in ("redis", "logs", "envoy", "audit", "audit-spool", "keys"):
            path = scratch_dir / private
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o700, private
        assert (scratch_dir / "redis").exists() and (scratch_dir / "logs").exists()
    finally:
        mesh.stop()
    assert mesh.children["fake"].returncode is not None
    assert not (mesh.postgres.pgdata / "postmaster.pid").exists()
    with pytest.raises(redis.ConnectionError), redis_once(port=mesh.redis.port) as client:
        client.ping()
    mesh.stop()  # twice is harmless


def test_a_dying_child_is_reported_with_its_output(scratch_dir: Path) -> None:
    crash = "import sys; print('cannot open the registry'); sys.exit(3)"

    def crashing() -> Mesh:
        port = free_port()
        return Mesh(_config(scratch_dir, port), [_fake(port, crash)])

    with pytest.raises(MeshError, match=r"(?s)fake exited with code 3.*cannot open"):
        _started(crashing)


@dataclass
class Supervised(Supervisor):
    """`modelgw up` (run_mesh) on one noted fake server, in a process of its own."""

    home: Path
    port: int
    redis_port: int

    def starts(self) -> list[int]:
        return [int(pid) for pid in (self.home / "starts").read_text().split()]

    def postmaster(self) -> int:
        return int((self.home / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])

    def redis_pid(self) -> int:
        return self.child_pid(lambda argv: b"redis-server" in argv[0], "Redis")

    def redis(self) -> redis.Redis:
        password = (self.home / "redis" / "password").read_text().strip()
        return redis_once(port=self.redis_port, password=password, socket_timeout=2)


@contextmanager
def supervised(
    home: Path, policy: dict[str, float] | None = None, **env: str
) -> Iterator[Supervised]:
    ports: dict[str, int] = {}

    def launch() -> tuple[list[str], dict[str, str]]:
        ports.update(fake=free_port(), pg=free_port(), redis=free_port())
        (home / "starts").unlink(missing_ok=True)  # a launch that could not bind noted one
        args = [str(home), str(ports["pg"]), str(ports["redis"]), str(ports["fake"]), NOTED_SERVER]
        args += [json.dumps(policy)] if policy else []
        return args, {**os.environ, "FAKE_STARTS": str(home / "starts"), **env}

    with supervisor(RUN_MESH, launch) as up:
        yield Supervised(up.process, up.lines, home, ports["fake"], ports["redis"])


def _serving(port: int) -> bool:
    return grpc_serving("127.0.0.1", port)


def _everything_stopped(mesh: Supervised) -> None:
    assert not _serving(mesh.port)
    assert not (mesh.home / "postgres" / "pgdata" / "postmaster.pid").exists()
    with pytest.raises(redis.ConnectionError), mesh.redis() as client:
        client.ping()


def test_killed_children_and_stores_are_restarted_and_sigint_stops_everything(
    scratch_dir: Path,
) -> None:
    with supervised(scratch_dir) as mesh:
        (first,) = mesh.starts()
        os.kill(first, signal.SIGKILL)
        mesh.expect(r"fake was killed by SIGKILL; restarting it in 0\.5s")
        # FAKE_SERVER asserts the mesh's environment: it serves only if it got it again.
        assert wait_until(lambda: _serving(mesh.port), 10, interval=0.2)
        assert mesh.process.poll() is None
        (_, second) = mesh.starts()
        log = (scratch_dir / "logs" / "fake.log").read_text()
        assert f"fake started as {first}" in log and f"fake started as {second}" in log
        # Killed again a little later: the next backoff is longer.
        os.kill(second, signal.SIGKILL)
        mesh.expect(r"fake was killed by SIGKILL; restarting it in 1s")
        assert wait_until(lambda: len(mesh.starts()) == 3 and _serving(mesh.port), 10, interval=0.2)

        # The stores have backoffs of their own.
        os.kill(mesh.redis_pid(), signal.SIGKILL)
        mesh.expect(r"redis was killed by SIGKILL; restarting it in 0\.5s")
        mesh.expect(r"restarted redis")
        with mesh.redis() as client:
            assert client.ping()
        postmaster = mesh.postmaster()
        os.kill(postmaster, signal.SIGKILL)
        mesh.expect(r"postgres .*; restarting it in 0\.5s")
        mesh.expect(r"restarted postgres", timeout=30)
        assert mesh.postmaster() != postmaster
        assert mesh.process.poll() is None and _serving(mesh.port)

        # Ctrl-C: run_mesh stops the service, Redis and PostgreSQL, and exits 0.
        assert mesh.interrupt() == 0
    _everything_stopped(mesh)


def test_a_child_that_keeps_crashing_stops_the_mesh(scratch_dir: Path) -> None:
    policy = {"first": 0.1, "longest": 0.4, "give_up_after": 3, "window": 60}
    with supervised(scratch_dir, policy, FAKE_CRASH_AGAIN="1") as mesh:
        os.kill(mesh.starts()[0], signal.SIGKILL)
        mesh.expect(r"fake was killed by SIGKILL; restarting it in 0\.1s")
        mesh.expect(r"fake exited with code 3; restarting it in 0\.2s")
        mesh.expect(r"fake exited with code 3: it crashed 3 times within 60s; giving up")
        mesh.expect(r"cannot come back")  # its log's tail
        assert mesh.process.wait(timeout=60) == 1
        assert len(mesh.starts()) == 3
    _everything_stopped(mesh)


def test_sigint_during_a_backoff_stops_without_restarting(scratch_dir: Path) -> None:
    with supervised(scratch_dir, {"first": 30, "longest": 30}) as mesh:
        os.kill(mesh.starts()[0], signal.SIGKILL)
        mesh.expect(r"fake was killed by SIGKILL; restarting it in 30s")
        assert mesh.interrupt(timeout=30) == 0
        assert len(mesh.starts()) == 1
    _everything_stopped(mesh)
