"""The supervisor starts its parts in order, reports a failing child, and stops them all."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from gateway.mesh import MeshError, free_port
from gateway.mesh.services import Service, grpc_serving
from gateway.mesh.supervisor import Mesh, MeshConfig, summary

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

RUN_MESH = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from gateway.mesh.services import Service
    from gateway.mesh.supervisor import MeshConfig, run_mesh
    home, pg, rd, port, script = sys.argv[1:]
    service = Service("fake", "FAKE_PORT", int(port), command=(sys.executable, "-c", script))
    config = MeshConfig(Path(home), pg_port=int(pg), redis_port=int(rd),
                        service_ports={"FAKE_PORT": int(port)})
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


def test_mesh_starts_and_stops_everything(scratch_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port, console_port = free_port(), free_port()
    config = replace(_config(scratch_dir, port), service_ports={"FAKE_PORT": port, "CONSOLE_PORT": console_port})
    console = Service("console", "CONSOLE_PORT", console_port,
                      command=(sys.executable, "-c", FAKE_SERVER, "CONSOLE_PORT"), sql_console=True)
    mesh = Mesh(config, [_fake(port), console])
    # Set in the supervisor's own environment: still not passed on to the others.
    monkeypatch.setenv("MODELGW_QUERY_DATABASE_URL", "postgresql://modelgw_query@elsewhere/x")
    try:
        mesh.start()
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
    with pytest.raises(redis.ConnectionError), redis.Redis(port=mesh.redis.port) as client:
        client.ping()
    mesh.stop()  # twice is harmless


def test_a_dying_child_is_reported_with_its_output(scratch_dir: Path) -> None:
    crash = "import sys; print('cannot open the registry'); sys.exit(3)"
    port = free_port()
    mesh = Mesh(_config(scratch_dir, port), [_fake(port, crash)])
    try:
        with pytest.raises(MeshError, match=r"(?s)fake exited with code 3.*cannot open"):
            mesh.start()
    finally:
        mesh.stop()


def test_run_mesh_stops_everything_on_sigint(scratch_dir: Path) -> None:
    port, pg_port, redis_port = free_port(), free_port(), free_port()
    argv = [sys.executable, "-c", RUN_MESH, str(scratch_dir), str(pg_port), str(redis_port)]
    proc = subprocess.Popen(
        [*argv, str(port), FAKE_SERVER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Stop with Ctrl-C" in line:
                break
        assert grpc_serving("127.0.0.1", port)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    assert not grpc_serving("127.0.0.1", port)
    assert not (scratch_dir / "postgres" / "pgdata" / "postmaster.pid").exists()
    with pytest.raises(redis.ConnectionError), redis.Redis(port=redis_port) as client:
        client.ping()
