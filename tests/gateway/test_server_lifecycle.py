"""A server process under stress of its surroundings: its database going away
and coming back, SIGTERM, and oversized messages."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from mesh import LocalPostgres, free_port
from modelgateway.v1 import model_pb2
from modelgateway.v1 import registry_pb2 as R

from ..conftest import make_scratch_dir
from .conftest import Mesh, start_server, unique_name, wait_serving


def lone_registry(database_url: str, home: str, **settings: str) -> Mesh:
    port = free_port()
    env = {
        **os.environ,
        "MODELGW_HOME": home,
        "MODELGW_DATABASE_URL": database_url,
        "MODELGW_REGISTRY_PORT": str(port),
        **settings,
    }
    mesh = Mesh(
        env=env,
        addresses={"registry": f"127.0.0.1:{port}"},
        logs={"registry": Path(home) / "registry.log"},
    )
    start_server(mesh, "registry")
    wait_serving(mesh, "registry")
    return mesh


@pytest.fixture
def own_postgres() -> Iterator[LocalPostgres]:
    path = make_scratch_dir("pg-own")
    server = LocalPostgres(path, free_port(), durable=False)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(path, ignore_errors=True)


def stop(mesh: Mesh) -> int:
    process = mesh.processes["registry"]
    for channel in mesh.channels.values():
        channel.close()
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


def test_database_outage_gives_unavailable_then_recovers(own_postgres: LocalPostgres, tmp_path: Path) -> None:
    mesh = lone_registry(own_postgres.dsn, str(tmp_path), MODELGW_DATABASE_TIMEOUT="2")
    su = mesh.metadata("root", superuser=True)
    stub, name = mesh.registry(), unique_name()
    try:
        stub.CreateModel(R.CreateModelRequest(model=model_pb2.Model(name=name)), metadata=su)
        own_postgres.stop()
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as failure:
            stub.GetModel(R.GetModelRequest(name=name), metadata=su, timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value.details()
        assert time.monotonic() - started < 8
        own_postgres.start()
        deadline = time.monotonic() + 30
        while True:  # the pool replaces its dead connections: no restart needed
            try:
                got = stub.GetModel(R.GetModelRequest(name=name), metadata=su, timeout=5)
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.5)
        assert got.model.name == name
    finally:
        stop(mesh)


def test_sigterm_stops_gracefully_and_big_messages_are_refused(postgres_dsn: str, tmp_path: Path) -> None:
    mesh = lone_registry(postgres_dsn, str(tmp_path), MODELGW_MAX_MESSAGE_BYTES="65536")
    su = mesh.metadata("root", superuser=True)
    huge = model_pb2.Model(name=unique_name(), description="x" * 100_000)
    with pytest.raises(grpc.RpcError) as failure:
        mesh.registry().CreateModel(R.CreateModelRequest(model=huge), metadata=su)
    assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert mesh.registry().ListModels(R.ListModelsRequest(), metadata=su) is not None
    assert stop(mesh) == 0
    log = mesh.logs["registry"].read_text()
    assert '"msg": "stopping"' in log and '"msg": "stopped"' in log
