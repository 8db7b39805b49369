"""The Jobs list (the user's jobs, a model filter, cancel of a QUEUED job) and
a job's page (its timeline, results, a consensus job's children, and "not
found or not visible to you" for someone else's job), with jobs run by the
built-in worker and the consensus runner of the scheduler."""

from __future__ import annotations

import time

import pytest
from google.protobuf import struct_pb2

from modelgateway.v1 import execution_pb2, execution_pb2_grpc, job_pb2
from tests.gateway.execution.conftest import register_backend, start_worker, stop_worker
from tests.harness import Mesh, unique_name

from .conftest import Console

pytestmark = pytest.mark.usefixtures("builtin_worker")
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
FINAL = {job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED}


def _stub(mesh: Mesh) -> execution_pb2_grpc.ExecutionServiceStub:
    return execution_pb2_grpc.ExecutionServiceStub(mesh.channel("execution"))


def _submit(mesh: Mesh, user: str, model: str, smiles: str = CAFFEINE) -> job_pb2.Job:
    record = struct_pb2.Struct()
    record.update({"smiles": smiles})
    request = execution_pb2.SubmitJobRequest(model=model, records=[record])
    return _stub(mesh).SubmitJob(request, metadata=mesh.metadata(user), timeout=10).job


def _finished(mesh: Mesh, user: str, job_id: str, timeout_s: float = 60.0) -> job_pb2.Job:
    deadline = time.monotonic() + timeout_s
    while True:
        request = execution_pb2.GetJobRequest(id=job_id)
        job = _stub(mesh).GetJob(request, metadata=mesh.metadata(user), timeout=10).job
        if job.status in FINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_the_list_shows_my_jobs_filters_by_model_and_cancels_a_queued_job(console: Console) -> None:
    mesh = console.edge.mesh
    user, unserved = unique_name("lister"), unique_name("unserved")
    register_backend(mesh, unserved, "python", {"callable": "workers.builtin.demo:echo"})
    done = _finished(mesh, user, _submit(mesh, user, "rdkit.logp").id)
    waiting = _submit(mesh, user, unserved)  # no worker serves it: it stays QUEUED
    tab = console.open(user)
    page = tab.page
    tab.go("#/jobs")
    page.locator("table.jobs tbody tr").nth(1).wait_for()
    assert page.locator("table.jobs tbody tr").count() == 2  # only this user's jobs
    assert page.locator("table.jobs a", has_text="rdkit.logp").count() == 1
    page.get_by_label("Model").fill(unserved)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_function("() => document.querySelector('.count').textContent === '1 job'")
    row = page.locator("table.jobs tbody tr")
    assert unserved in row.inner_text() and "QUEUED" in row.inner_text()
    assert page.locator(f'a[href="#/jobs/{done.id}"]').count() == 0
    page.get_by_role("button", name=f"Cancel job {waiting.id}").click()
    row.locator(".status", has_text="CANCELLED").wait_for()
    assert page.get_by_role("button", name=f"Cancel job {waiting.id}").count() == 0
    assert _finished(mesh, user, waiting.id).status == job_pb2.JOB_STATUS_CANCELLED
    page.get_by_label("Status").select_option("JOB_STATUS_SUCCEEDED")
    page.wait_for_function("() => document.querySelector('.count').textContent === '0 jobs'")
    tab.assert_no_console_errors()


def test_a_jobs_page_shows_its_timeline_and_results_live(console: Console) -> None:
    mesh = console.edge.mesh
    user = unique_name("watcher")
    job = _submit(mesh, user, "rdkit.logp")
    tab = console.open(user)
    page = tab.page
    tab.go(f"#/jobs/{job.id}")  # opened at once: the page follows the job live
    page.locator(".status-line .status", has_text="SUCCEEDED").wait_for()
    steps = page.locator(".timeline li")
    assert [s.locator(".transition").inner_text() for s in steps.all()] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert all(s.locator("time").inner_text().strip() for s in steps.all())
    facts = page.locator(".facts").inner_text()
    assert "1.0.0" in facts and "default" in facts and " s" in facts
    assert "-1.029" in page.locator("table.results").inner_text()
    tab.assert_no_console_errors()

    stranger = console.open(unique_name("stranger"))
    stranger.go(f"#/jobs/{job.id}")
    assert "not found or not visible to you" in stranger.page.locator("main").inner_text()
    assert [e for e in stranger.errors if "status of 404" not in e] == []  # Chromium logs the 404


@pytest.mark.usefixtures("scheduler_process")
def test_a_consensus_jobs_page_lists_its_children(console: Console) -> None:
    mesh = console.edge.mesh
    user = unique_name("consensus")
    job = _finished(mesh, user, _submit(mesh, user, "demo.paper-consensus").id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    tab = console.open(user)
    page = tab.page
    tab.go(f"#/jobs/{job.id}")
    children = page.locator("table.children tbody tr")
    children.nth(1).wait_for()
    first, second = children.all_inner_texts()
    assert "CHILDMODEL1" in first and "rdkit.logp" in first and "SUCCEEDED" in first
    assert "CHILDMODEL2" in second and "rdkit.esol" in second
    child = job.children[0].job_id
    page.locator(f'table.children a[href="#/jobs/{child}"]').click()
    page.locator(".facts a", has_text=job.id).wait_for()  # the child names its parent
    tab.assert_no_console_errors()


def test_the_list_pages_through_many_jobs(console: Console) -> None:
    mesh = console.edge.mesh
    user, unserved = unique_name("pager"), unique_name("unserved")
    register_backend(mesh, unserved, "python", {"callable": "workers.builtin.demo:echo"})
    ids = [_submit(mesh, user, unserved).id for _ in range(11)]
    tab = console.open(user)
    page = tab.page
    tab.go("#/jobs")
    count = "() => document.querySelector('.count').textContent === '{}'"
    page.wait_for_function(count.format("11 jobs"))
    assert page.get_by_role("button", name="Next page").is_hidden()
    page.get_by_label("Per page").select_option("10")
    page.wait_for_function(count.format("10 jobs"))
    assert page.locator(f'a[href="#/jobs/{ids[-1]}"]').count() == 1  # newest first
    page.get_by_role("button", name="Next page").click()
    page.wait_for_function(count.format("1 job on page 2"))
    assert page.locator(f'a[href="#/jobs/{ids[0]}"]').count() == 1
    assert page.get_by_role("button", name="Next page").is_hidden()
    page.get_by_role("button", name="Previous page").click()
    page.wait_for_function(count.format("10 jobs"))
    tab.assert_no_console_errors()


def test_a_queued_jobs_page_follows_it_live_once_a_worker_starts(console: Console) -> None:
    mesh = console.edge.mesh
    user, name = unique_name("live"), unique_name("late")
    register_backend(mesh, name, "python", {"callable": "workers.builtin.demo:echo"})
    job = _submit(mesh, user, name)
    tab = console.open(user)
    page = tab.page
    tab.go(f"#/jobs/{job.id}")
    page.locator(".status-line .status", has_text="QUEUED").wait_for()
    page.locator(".status-line .warn").wait_for()  # no worker serves the model yet
    assert page.get_by_role("button", name="Cancel job").is_visible()
    worker = start_worker(mesh, [name], "console-late")
    try:
        page.locator(".status-line .status", has_text="SUCCEEDED").wait_for(timeout=60_000)
    finally:
        stop_worker(worker)
    assert page.locator(".timeline .transition").all_inner_texts() == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert page.get_by_role("button", name="Cancel job").count() == 0
    assert CAFFEINE in page.locator("table.results").inner_text()  # the echo of its record
    tab.assert_no_console_errors()
