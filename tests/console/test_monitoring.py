"""The monitoring page: WatchJobStats in the browser, per model the same counts
GetJobStats reports, updated in place as more jobs finish; nothing for a
non-superuser; and a phone-wide layout without page-wide scrolling."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from modelgateway.v1 import admin_pb2, admin_pb2_grpc, execution_pb2, execution_pb2_grpc, job_pb2
from tests.gateway.execution.conftest import register_backend, start_worker, stop_worker
from tests.gateway.execution.test_delivery import _deliver_and_abandon
from tests.harness import Mesh, unique_name

from .conftest import NARROW, Console, Tab

COUNTS = ("queued", "running", "succeeded", "failed", "cancelled")
WINDOW_S = 900  # the page's window


@pytest.fixture(scope="module")
def served(mesh: Mesh) -> Iterator[str]:
    """A public echo model of this module, and a worker of its own running it."""
    name = unique_name("monitor")
    register_backend(mesh, name, "python", {"callable": "workers.builtin.demo:echo"})
    worker = start_worker(mesh, [name], "monitor")
    try:
        yield name
    finally:
        stop_worker(worker)


def _run_jobs(mesh: Mesh, model: str, n: int) -> None:
    stub = execution_pb2_grpc.ExecutionServiceStub(mesh.channel("execution"))
    meta = mesh.metadata("alice")
    record = struct_pb2.Struct()
    record.update({"x": 1})
    ids = [
        stub.SubmitJob(
            execution_pb2.SubmitJobRequest(model=model, records=[record]), metadata=meta
        ).job.id
        for _ in range(n)
    ]
    deadline = time.monotonic() + 30
    for job_id in ids:
        while stub.GetJob(execution_pb2.GetJobRequest(id=job_id), metadata=meta).job.status != (
            job_pb2.JOB_STATUS_SUCCEEDED
        ):
            assert time.monotonic() < deadline, f"job {job_id} did not succeed"
            time.sleep(0.05)


def _stats(mesh: Mesh, model: str) -> admin_pb2.ModelJobStats:
    stub = admin_pb2_grpc.AdminServiceStub(mesh.channel("admin"))
    reply = stub.GetJobStats(
        admin_pb2.GetJobStatsRequest(model=model, window_seconds=WINDOW_S),
        metadata=mesh.metadata("root", superuser=True),
    )
    [stats] = [m for m in reply.stats.models if m.model == model]
    return stats


def _page_counts(tab: Tab, model: str, succeeded: int) -> dict[str, int]:
    """The model's row once it shows `succeeded` (the stream's next snapshots)."""
    row = f"table.monitor-models tr[data-key='{model}']"
    tab.page.wait_for_function(
        "([row, n]) => document.querySelector(row + \" [data-col='succeeded']\")?.textContent === String(n)",
        arg=[row, succeeded],
        timeout=5000,
    )
    cells: dict[str, Any] = tab.page.eval_on_selector(
        row, "tr => Object.fromEntries([...tr.children].map(c => [c.dataset.col, c.textContent]))"
    )
    return {key: int(cells[key]) for key in COUNTS}


def test_the_page_shows_get_job_stats_and_follows_new_jobs(
    console: Console, mesh: Mesh, served: str
) -> None:
    _run_jobs(mesh, served, 3)
    tab = console.open("root", superuser=True)
    tab.go("#/monitoring")
    expected = _stats(mesh, served)
    assert expected.succeeded == 3
    assert _page_counts(tab, served, 3) == {key: getattr(expected, key) for key in COUNTS}
    assert tab.page.locator("svg.chart").count() == 2
    tab.page.get_by_text("The charts start when this page opens", exact=False).wait_for()
    tab.page.get_by_role("link", name="The REST API in Swagger UI").wait_for()
    tab.page.locator("text=http://127.0.0.1:9463/metrics").wait_for()

    row = f"table.monitor-models tr[data-key='{served}']"
    tab.page.eval_on_selector(row, "tr => { tr.dataset.seen = 'before'; }")
    _run_jobs(mesh, served, 2)
    counts = _page_counts(tab, served, 5)  # within 5 s, without a reload
    after = _stats(mesh, served)
    assert counts == {key: getattr(after, key) for key in COUNTS}
    # the same row element, updated in place rather than rebuilt
    assert tab.page.get_attribute(row, "data-seen") == "before"
    versions = tab.page.locator(
        f"table.monitor-versions tr[data-key='{served}@1.0.0'] [data-col='succeeded']"
    )
    assert versions.inner_text() == "5"
    tab.page.get_by_label("Filter models").fill(served)
    assert tab.page.locator("table.monitor-models tbody tr:visible").count() == 1
    tab.assert_no_console_errors()


def test_a_non_superuser_sees_no_statistics_and_the_api_refuses(
    console: Console, mesh: Mesh, served: str
) -> None:
    tab = console.open("alice")
    tab.go("#/monitoring")
    tab.page.get_by_text("Only superusers see the monitoring page").wait_for()
    assert tab.page.locator("table, svg.chart, .stat").count() == 0
    request = urllib.request.Request(
        console.edge.url + "/v1/admin/stats",
        headers={"authorization": f"Bearer {mesh.token('alice')}"},
    )
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        urllib.request.urlopen(request, timeout=10)
    assert forbidden.value.code == 403
    stub = admin_pb2_grpc.AdminServiceStub(mesh.channel("admin"))
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetJobStats(admin_pb2.GetJobStatsRequest(), metadata=mesh.metadata("alice"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    tab.assert_no_console_errors()


def test_the_monitoring_page_fits_a_phone(console: Console, served: str) -> None:
    tab = console.open("root", superuser=True, viewport=NARROW)
    tab.go("#/monitoring")
    tab.page.wait_for_selector(f"table.monitor-models tr[data-key='{served}']")
    width = tab.page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], width
    tab.assert_no_console_errors()


def test_a_dead_lettered_job_is_listed_and_counted(console: Console, mesh: Mesh) -> None:
    name = unique_name("poison")
    register_backend(mesh, name, "python", {"callable": "workers.builtin.demo:echo"})
    stub = execution_pb2_grpc.ExecutionServiceStub(mesh.channel("execution"))
    record = struct_pb2.Struct()
    record.update({"x": 1})
    request = execution_pb2.SubmitJobRequest(model=name, records=[record])
    poison = stub.SubmitJob(request, metadata=mesh.metadata("alice")).job
    # three workers take it and die: past the delivery limit, the next worker dead-letters it
    ghosts = _deliver_and_abandon(mesh.env["MODELGW_REDIS_URL"], name, poison.version, 3, 3000)
    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        thread.submit(asyncio.run, ghosts).result(timeout=30)
    tab = console.open("root", superuser=True)
    tab.go("#/monitoring")
    worker = start_worker(mesh, [name], "poison", concurrency=1)
    try:
        link = tab.page.get_by_role("link", name=poison.id)
        link.wait_for(timeout=20000)
    finally:
        stop_worker(worker)
    row = tab.page.locator("table.dead-letters tr", has=link)
    assert row.locator("[data-col='model']").inner_text() == name
    assert link.get_attribute("href") == f"#/jobs/{poison.id}"
    dead = f"table.monitor-models tr[data-key='{name}'] [data-col='dead_lettered']"
    tab.page.wait_for_function(f"() => document.querySelector(\"{dead}\")?.textContent === '1'")
    tab.assert_no_console_errors()
