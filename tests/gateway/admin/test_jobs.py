"""A run of jobs (some failing on purpose, some cancelled, some left queued)
through the session mesh, a worker, the scheduler and the audit shipper
writing to a real S3 API (moto): the stats match the known counts exactly,
every job's transitions are in the bucket, an S3 outage loses nothing, and
every process's /metrics scrapes."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from modelgateway.v1 import admin_pb2 as A
from modelgateway.v1 import execution_pb2, job_pb2, registry_pb2
from tests.gateway.execution.conftest import Jobs, _register
from tests.harness import Mesh, free_port

from .conftest import CREDENTIALS, PREFIX, Processes, S3Server, admin_stub

ANY = {"type": "object"}
BIG = "C" * 70_000  # above MODELGW_AUDIT_INLINE_BYTES (64 KiB): audited by hash


@dataclass
class Run:
    jobs: Jobs
    processes: Processes
    spool: Path
    metrics: dict[str, int]
    inputs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    final: dict[str, str] = field(default_factory=dict)  # job id -> final status (or QUEUED)

    def submit(self, suffix: str, records: list[dict[str, Any]]) -> str:
        job = self.jobs.submit(suffix, records)
        self.inputs[job.id] = records
        return str(job.id)

    def finish(self, job_id: str) -> None:
        self.final[job_id] = job_pb2.JobStatus.Name(self.jobs.wait(job_id).status).removeprefix("JOB_STATUS_")


def wait_for(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def run(mesh: Mesh, s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    jobs = Jobs(mesh, f"a-{uuid.uuid4().hex[:8]}")
    for suffix, callable_ in (("ok", "workers.builtin.demo:echo"), ("bad", "tests.gateway.execution.callables:fail"),
                              ("idle", "workers.builtin.demo:echo")):
        _register(mesh, jobs.model(suffix), callable_, ANY, {})
    spool = tmp_path_factory.mktemp("spool")
    metrics = {name: free_port() for name in ("worker", "scheduler", "audit")}
    processes = Processes(mesh)
    served = f"{jobs.model('ok')},{jobs.model('bad')}"
    processes.start("admin-worker", ["worker", "--models", served, "--concurrency", "4", "--drain-grace", "2"],
                    {"MODELGW_WORKER_METRICS_PORT": str(metrics["worker"])})
    processes.start("admin-scheduler", ["scheduler", "--interval", "1"],
                    {"MODELGW_SCHEDULER_METRICS_PORT": str(metrics["scheduler"])})
    processes.start("admin-audit", ["audit"], {
        **CREDENTIALS,
        "MODELGW_AUDIT_BUCKET": "modelgw-audit-test",
        "MODELGW_AUDIT_PREFIX": PREFIX,
        "MODELGW_S3_ENDPOINT": s3.url,
        "MODELGW_AUDIT_SPOOL": str(spool),
        "MODELGW_AUDIT_FLUSH_SECONDS": "0.5",
        "MODELGW_AUDIT_METRICS_PORT": str(metrics["audit"]),
    })
    state = Run(jobs, processes, spool, metrics)
    try:
        yield state
    finally:
        processes.stop_all()
        # Leave nothing that could queue forever once the worker is gone: later tests
        # (schemathesis) submit to the public models they list and watch the jobs.
        for job_id, status in state.final.items():
            if status == "QUEUED":
                jobs.stub().CancelJob(execution_pb2.CancelJobRequest(id=job_id), metadata=mesh.metadata("alice"))
        for suffix in ("ok", "bad", "idle"):
            mesh.registry().DeleteModel(
                registry_pb2.DeleteModelRequest(name=jobs.model(suffix)), metadata=mesh.metadata("root", superuser=True)
            )


@pytest.fixture(scope="module")
def ran(run: Run, mesh: Mesh) -> Run:
    """Six successes (one with a large input), three failures, two cancelled and two
    left waiting in a queue nobody serves."""
    ok = [run.submit("ok", [{"n": i}]) for i in range(5)] + [run.submit("ok", [{"smiles": BIG}])]
    bad = [run.submit("bad", [{"n": i}]) for i in range(3)]
    idle = [run.submit("idle", [{"n": i}]) for i in range(4)]
    for job_id in idle[:2]:
        run.jobs.stub().CancelJob(execution_pb2.CancelJobRequest(id=job_id), metadata=mesh.metadata("alice"))
    for job_id in ok + bad + idle[:2]:
        run.finish(job_id)
    for job_id in idle[2:]:
        run.final[job_id] = "QUEUED"
    return run


def _stats(mesh: Mesh, model: str = "") -> A.JobStats:
    return admin_stub(mesh).GetJobStats(
        A.GetJobStatsRequest(model=model, window_seconds=600), metadata=mesh.metadata("root", superuser=True)
    ).stats


def test_stats_match_the_known_counts(ran: Run, mesh: Mesh) -> None:
    stats = {m.model: m for m in _stats(mesh).models}
    ok, bad, idle = (stats[ran.jobs.model(s)] for s in ("ok", "bad", "idle"))
    assert (ok.queued, ok.running, ok.succeeded, ok.failed, ok.cancelled) == (0, 0, 6, 0, 0)
    assert (bad.queued, bad.running, bad.succeeded, bad.failed, bad.cancelled) == (0, 0, 0, 3, 0)
    assert (idle.queued, idle.running, idle.succeeded, idle.failed, idle.cancelled) == (2, 0, 0, 0, 2)
    assert ok.success_rate == 1.0 and bad.success_rate == 0.0
    assert ok.execution.count == 6 and ok.queue_wait.count == 6
    assert 0 < ok.execution.p50_seconds <= ok.execution.p95_seconds < 5
    assert ok.execution.mean_seconds > 0 and ok.queue_wait.p95_seconds >= ok.queue_wait.p50_seconds >= 0
    assert idle.execution.count == 0  # never started
    assert ok.throughput_per_second == pytest.approx(6 / 600)
    assert (ok.live_workers, bad.live_workers, idle.live_workers) == (1, 1, 0)
    only = _stats(mesh, ran.jobs.model("ok"))
    assert [m.model for m in only.models] == [ran.jobs.model("ok")]
    assert only.overall.succeeded == 6


def test_watch_streams_snapshots(ran: Run, mesh: Mesh) -> None:
    stream = admin_stub(mesh).WatchJobStats(
        A.WatchJobStatsRequest(model=ran.jobs.model("bad"), interval_seconds=1),
        metadata=mesh.metadata("root", superuser=True),
    )
    started = time.monotonic()
    snapshots = []
    for message in stream:
        snapshots.append(message.stats)
        if len(snapshots) == 2:
            stream.cancel()
            break
    assert time.monotonic() - started >= 0.9
    assert [s.overall.failed for s in snapshots] == [3, 3]
    assert snapshots[1].time.ToNanoseconds() > snapshots[0].time.ToNanoseconds()


def _by_job(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record["type"] == "job":
            out.setdefault(record["job"], []).append(record)
    return out


def _check_audited(run: Run, by_job: dict[str, list[dict[str, Any]]], job_ids: list[str]) -> None:
    for job_id in job_ids:
        records = sorted({r["id"]: r for r in by_job[job_id]}.values(), key=lambda r: r["time"])
        statuses = [r["status"] for r in records]
        expected_final = run.final[job_id]
        assert statuses[0] == "QUEUED" and statuses[-1] == expected_final, (job_id, statuses)
        queued = records[0]
        assert queued["model"].startswith(run.jobs.prefix) and queued["user"] == "alice"
        assert queued["version"] == "1.0.0"
        if run.inputs[job_id][0].get("smiles") == BIG:
            assert "input" not in queued and len(queued["input_sha256"]) == 64
            assert queued["input_bytes"] > 70_000
        else:
            assert queued["input"] == run.inputs[job_id]
        if expected_final == "FAILED":
            assert records[-1]["error_message"]


def test_every_job_is_in_the_bucket(ran: Run, s3: S3Server) -> None:
    job_ids = list(ran.final)
    def audited() -> dict[str, list[dict[str, Any]]] | None:
        by_job = _by_job(s3.records())
        done = all(
            job_id in by_job and any(r["status"] == ran.final[job_id] for r in by_job[job_id])
            for job_id in job_ids
        )
        return by_job if done else None
    by_job = wait_for(audited, 30, "every job's records in S3")
    _check_audited(ran, by_job, job_ids)
    keys = s3.keys()
    assert keys and all(k.startswith(f"{PREFIX}/dt=") and "/hour=" in k and k.endswith(".jsonl.gz") for k in keys)


def _failed_uploads(run: Run) -> int:
    """Upload rounds the audit shipper has logged as failed so far."""
    log = run.jobs.mesh.logs["registry"].parent / "admin-audit.log"
    return log.read_text().count("upload failed; kept in the spool")


def test_an_s3_outage_loses_nothing(ran: Run, s3: S3Server, mesh: Mesh) -> None:
    s3.stop()
    try:
        started = time.monotonic()
        during = [ran.submit("ok", [{"outage": i}]) for i in range(3)] + [ran.submit("bad", [{"outage": 9}])]
        assert time.monotonic() - started < 5  # submission is not blocked by S3
        for job_id in during:
            ran.finish(job_id)
        # Spooled on disk while S3 is down.
        wait_for(lambda: list(ran.spool.rglob("*.jsonl.gz")), 20, "spooled objects")
        failed_before = _failed_uploads(ran)
        wait_for(lambda: _failed_uploads(ran) >= failed_before + 2, 20, "failed upload rounds")
    finally:
        s3.start()  # a fresh moto: an empty bucket
    def audited() -> dict[str, list[dict[str, Any]]] | None:
        by_job = _by_job(s3.records())
        done = all(any(r["status"] == ran.final[j] for r in by_job.get(j, [])) for j in during)
        return by_job if done else None
    by_job = wait_for(audited, 30, "the outage's records in S3")
    _check_audited(ran, by_job, during)
    wait_for(lambda: not list(ran.spool.rglob("*.jsonl.gz")), 20, "an empty spool")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        assert reply.status == 200
        return str(reply.read().decode())


def test_every_process_serves_metrics(ran: Run, mesh: Mesh) -> None:
    for server in ("registry", "execution", "admin"):
        text = _scrape(mesh.metrics_ports[server])
        assert "modelgw_rpc_calls_total{" in text and "modelgw_rpc_duration_seconds_bucket{" in text, server
    execution = _scrape(mesh.metrics_ports["execution"])
    assert 'modelgw_rpc_calls_total{code="OK",method="/modelgateway.v1.ExecutionService/SubmitJob"}' in execution
    ok, bad = ran.jobs.model("ok"), ran.jobs.model("bad")
    worker = _scrape(ran.metrics["worker"])
    assert f'modelgw_jobs_finished_total{{model="{ok}",status="SUCCEEDED"}}' in worker
    assert f'modelgw_jobs_finished_total{{model="{bad}",status="FAILED"}}' in worker
    assert f'modelgw_job_run_seconds_count{{model="{ok}"}}' in worker
    idle = ran.jobs.model("idle")
    scheduler = wait_for(
        lambda: (t := _scrape(ran.metrics["scheduler"])) and f'modelgw_queue_depth{{model="{idle}"}} 2.0' in t and t,
        15, "the scheduler's gauges",
    )
    assert f'modelgw_workers{{model="{ok}",state="idle"}}' in scheduler
    assert "python_info" in _scrape(ran.metrics["audit"])
