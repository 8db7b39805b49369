"""Retries: a submission across a Redis restart makes exactly one job."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelgw
from mesh import LocalRedis, MeshError, free_port
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


def _restart(redis: LocalRedis) -> None:
    """Starts Redis again. Once, in a CI run, the restarted server got a SIGTERM a
    second after it was ready, from a sender not found; the test is about the
    client's retries, not Redis' start, so a start that fails is tried again."""
    for attempt in range(3):
        try:
            redis.start()
            return
        except MeshError:
            if attempt == 2:
                raise


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
            # The submission runs in a thread and Redis restarts from this one: the
            # mesh's processes die with the thread that started them.
            submitted: list[modelgw.Job] = []
            submitting = threading.Thread(
                target=lambda: submitted.append(client.submit("rdkit.logp", [{"smiles": "CCO"}]))
            )
            started = time.monotonic()
            submitting.start()
            time.sleep(2.0)
            assert not submitted, "the submission succeeded while Redis was down"
            _restart(redis)
            submitting.join(timeout=40)
            assert submitted, "the submission never succeeded"
            job = submitted[0]
            assert time.monotonic() - started >= 2.0
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


def test_watch_and_watch_many_reconnect_across_an_execution_server_restart(
    mesh: Mesh, builtin_worker: object, scratch: Path
) -> None:
    from tests.gateway.conftest import create_model

    fixture = create_model(mesh)  # no worker serves it: its jobs stay queued
    redis = LocalRedis(scratch / "redis", free_port(), persistence=True)
    redis.start()
    own = _own_execution_server(mesh, redis.url, scratch)
    token = mesh.token(fixture.reader)
    try:
        with modelgw.Client(own.addresses["execution"], token, retries=30) as client:
            job, before = (client.submit(fixture.name, [{"smiles": s}]) for s in ("C", "CC"))
            seen: list[str] = []
            many: list[tuple[str, str]] = []
            opened, opened_many, ended_before = (threading.Event() for _ in range(3))

            def follow() -> None:
                for info in job.watch():
                    seen.append(info.status)
                    opened.set()

            def follow_many() -> None:
                for one, info in client.watch_many([job, before]):
                    many.append((one.id, info.status))
                    if len(many) == 2:  # both QUEUED
                        opened_many.set()
                    if one is before and info.done:
                        ended_before.set()

            watching = [
                threading.Thread(target=follow),
                threading.Thread(target=follow_many),
            ]
            for thread in watching:
                thread.start()
            assert opened_many.wait(10)
            before.cancel()  # final before the restart: not watched again after it
            assert ended_before.wait(10) and opened.wait(10)
            own.processes["execution"].terminate()
            own.processes["execution"].wait(timeout=20)
            start_server(own, "execution")
            wait_serving(own, "execution")
            job.cancel()
            for thread in watching:
                thread.join(timeout=30)
            assert not any(t.is_alive() for t in watching) and seen == ["QUEUED", "CANCELLED"]
            assert sorted(many) == sorted(
                (j.id, s) for j in (job, before) for s in ("QUEUED", "CANCELLED")
            )
    finally:
        for process in own.processes.values():
            process.terminate()
            process.wait(timeout=20)
        redis.stop()
