"""GetJobStats counts a worker that serves a model while it is idle, even for a
model that never had a job, and stops counting it once it is gone.

Bounds, with the session mesh's MODELGW_WORKER_PRESENCE_SECONDS of 0.5: a worker
that stops (SIGTERM) withdraws at once; one that dies (SIGKILL) drops out
within the live window, three announcements (1.5 s)."""

from __future__ import annotations

import time

from modelgateway.v1 import admin_pb2 as A
from tests.gateway.execution.conftest import start_worker, stop_worker
from tests.harness import Mesh, unique_name

from .conftest import admin_stub

LIVE_WINDOW_S = 1.5


def live_workers(mesh: Mesh, model: str = "") -> dict[str, int]:
    stats = admin_stub(mesh).GetJobStats(
        A.GetJobStatsRequest(model=model), metadata=mesh.metadata("root", superuser=True), timeout=10
    ).stats
    return {m.model: m.live_workers for m in stats.models}


def wait_live(mesh: Mesh, model: str, count: int, timeout_s: float) -> float:
    """Seconds until GetJobStats reports `count` live workers of model."""
    started = time.monotonic()
    while live_workers(mesh, model)[model] != count:
        assert time.monotonic() - started < timeout_s, f"{model} never had {count} live workers"
        time.sleep(0.05)
    return time.monotonic() - started


def test_an_idle_worker_is_live_for_a_model_that_never_had_a_job(mesh: Mesh) -> None:
    model = unique_name("presence")
    worker = start_worker(mesh, [model], "presence-idle")
    try:
        wait_live(mesh, model, 1, timeout_s=30)  # the worker process starting
        assert live_workers(mesh)[model] == 1  # listed among all models, too
    finally:
        stop_worker(worker)
    assert live_workers(mesh, model) == {model: 0}


def test_a_killed_worker_drops_out_within_the_live_window(mesh: Mesh) -> None:
    model = unique_name("presence")
    worker = start_worker(mesh, [model], "presence-killed")
    try:
        wait_live(mesh, model, 1, timeout_s=30)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    assert wait_live(mesh, model, 0, timeout_s=10) <= LIVE_WINDOW_S + 0.5
