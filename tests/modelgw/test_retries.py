"""Retries: a submission across a Redis restart makes exactly one job."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelgw
from mesh import LocalRedis, free_port
from tests.conftest import make_scratch_dir
from tests.harness import Mesh, start_server, wait_serving


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = make_scratch_dir("client-retries")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _own_execution_server(session: Mesh, redis_url: str, home: Path) -> Mesh:
    """An execution server of the session's registry on a Redis of its own."""
    port = free_port()
    env = {
        **session.env,
        "MODELGW_HOME": str(home),
        "MODELGW_REDIS_URL": redis_url,
        "MODELGW_EXECUTION_PORT": str(port),
        "MODELGW_JWT_SIGNING_KEY": str(session.config.auth.signing_key_path),
    }
    mesh = Mesh(
        env=env,
        addresses={"execution": f"127.0.0.1:{port}"},
        logs={"execution": home / "execution.log"},
    )
    start_server(mesh, "execution")
    wait_serving(mesh, "execution")
    return mesh


def test_a_submission_across_a_redis_restart_makes_one_job(
    mesh: Mesh, builtin_worker: object, scratch: Path
) -> None:
    redis = LocalRedis(scratch / "redis", free_port(), persistence=True)
    redis.start()
    own = _own_execution_server(mesh, redis.url, scratch)
    token = mesh.token(f"retry-{time.time_ns()}")
    try:
        with modelgw.Client(own.addresses["execution"], token, timeout_s=40, retries=30) as client:
            redis.stop()
            restart = threading.Timer(2.0, redis.start)
            restart.start()
            started = time.monotonic()
            job = client.submit("rdkit.logp", [{"smiles": "CCO"}])
            restart.join()
            assert time.monotonic() - started >= 1.5  # it did wait for Redis
            assert job.info().status == "QUEUED"  # no worker reads this Redis
            jobs = client.list_jobs(model="rdkit.logp")
            assert [j.id for j in jobs] == [job.id]
    finally:
        for process in own.processes.values():
            process.terminate()
            process.wait(timeout=20)
        redis.stop()


def test_unavailable_after_the_retries(mesh: Mesh) -> None:
    started = time.monotonic()
    client = modelgw.Client(f"127.0.0.1:{free_port()}", "t", timeout_s=3, retries=2)
    with client, pytest.raises(modelgw.Unavailable):
        client.get_model("rdkit.logp")
    assert time.monotonic() - started < 5
