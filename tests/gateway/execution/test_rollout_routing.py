"""The traffic split at submission under an active rollout, per-version queues
and workers, and the automatic rollback of a failing candidate, against the
real mesh: real servers, the rollout service and its controller, real worker
processes, one per version."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import redis

from modelgateway.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    execution_pb2,
    job_pb2,
    model_pb2,
    registry_pb2,
    rollout_pb2,
    rollout_pb2_grpc,
)
from rollouts.routing import bucket
from scheduler import keys
from tests.gateway.execution.conftest import (
    Jobs,
    _struct,
    add_version,
    register_backend,
    start_worker,
    stop_worker,
)
from tests.harness import Mesh, spawn_modelgw

ECHO = {"callable": "workers.builtin.demo:echo"}
S = job_pb2.JOB_STATUS_SUCCEEDED
ROLLOUT = job_pb2.VERSION_ROUTE_ROLLOUT


@dataclass
class Split:
    """A model with versions 1.0.0 (the default) and 2.0.0, under a rollout."""

    mesh: Mesh
    jobs: Jobs
    model: str
    rollout_id: str = ""
    probes: list[job_pb2.Job] = field(default_factory=list)
    """Submissions made to see the execution server take a change: they run too."""

    @property
    def user(self) -> str:
        """A user of its own: thousands of submissions stay within one user's budget."""
        return f"{self.model}-user"

    def submit(self, **fields: str) -> job_pb2.Job:
        request = execution_pb2.SubmitJobRequest(
            model=self.model, records=[_struct({"n": 0})], **fields
        )
        return self.jobs.stub().SubmitJob(request, metadata=self.mesh.metadata(self.user)).job

    def wait(self, job: job_pb2.Job) -> job_pb2.Job:
        return self.jobs.wait(job.id, user=self.user, timeout_s=60)

    def rollouts(self) -> rollout_pb2_grpc.RolloutServiceStub:
        return rollout_pb2_grpc.RolloutServiceStub(self.mesh.channel("admin"))

    def start_rollout(
        self,
        percent: float,
        guardrails: rollout_pb2.Guardrails | None = None,
        strategy: int = rollout_pb2.ROLLOUT_STRATEGY_CANARY,
    ) -> None:
        """A canary (or a blue/green bake) that holds `percent` for a week: only a
        breach or a call ends it. Without guardrails given, none can trip."""
        if guardrails is None:
            guardrails = rollout_pb2.Guardrails(min_jobs=1_000_000, max_p95_ratio=0)
        request = rollout_pb2.StartRolloutRequest(
            model=self.model, candidate_version="2.0.0", strategy=strategy,
            canary_percent=percent, bake_seconds=604_800, guardrails=guardrails,
        )  # fmt: skip
        self.rollout_id = self.rollouts().StartRollout(request, metadata=self.su).rollout.id
        self.wait_route(ROLLOUT)

    def rollout(self) -> rollout_pb2.Rollout:
        request = rollout_pb2.GetRolloutRequest(model=self.model, rollout_id=self.rollout_id)
        return self.rollouts().GetRollout(request, metadata=self.su).rollout

    @property
    def su(self) -> tuple[tuple[str, str], ...]:
        return self.mesh.metadata("root", superuser=True)

    def promote(self) -> None:
        request = rollout_pb2.PromoteRolloutRequest(model=self.model)
        self.rollouts().PromoteRollout(request, metadata=self.su)
        self.wait_route(job_pb2.VERSION_ROUTE_DEFAULT, "2.0.0")

    def wait_route(self, route: int, version: str = "") -> None:
        """The catalog hears the change by NOTIFY within milliseconds."""
        for _ in range(200):
            job = self.submit()
            self.probes.append(job)
            if job.version_route == route and (not version or job.version == version):
                return
        raise AssertionError("the execution server never saw the rollout change")


def worker_of(mesh: Mesh, job_id: str) -> str:
    with redis.Redis.from_url(mesh.env["MODELGW_REDIS_URL"], decode_responses=True) as client:
        name = client.hget(keys.job(job_id, keys.shard_of_job(job_id) or 0), "worker")
    return str(name)


def worker_name(process: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}-{process.pid}"


@pytest.fixture
def split(mesh: Mesh, jobs: Jobs) -> Iterator[Split]:
    model = jobs.model(f"split{uuid.uuid4().hex[:6]}")
    register_backend(mesh, model, "python", ECHO)
    add_version(mesh, model, "2.0.0", "python", ECHO)
    mesh.registry().SetDefaultVersion(
        registry_pb2.SetDefaultVersionRequest(name=model, version="1.0.0"),
        metadata=mesh.metadata("root", superuser=True),
    )
    yield Split(mesh, jobs, model)


def test_a_ten_percent_canary_gets_its_share_and_pinned_jobs_are_untouched(split: Split) -> None:
    split.start_rollout(10.0)
    with ThreadPoolExecutor(16) as pool:
        routed = list(pool.map(lambda _: split.submit(), range(2000)))
        pinned = list(pool.map(lambda i: split.submit(version=("1.0.0", "2.0.0")[i % 2]), range(100)))
    share = sum(job.version == "2.0.0" for job in routed) / len(routed)
    assert abs(share - 0.10) <= 0.03, share
    assert {(j.version_route, j.rollout_id) for j in routed} == {(ROLLOUT, split.rollout_id)}
    assert [j.version for j in pinned] == ["1.0.0", "2.0.0"] * 50
    assert {j.version_route for j in pinned} == {job_pb2.VERSION_ROUTE_PINNED}


def test_the_same_routing_key_always_gets_the_same_version(split: Split) -> None:
    split.start_rollout(30.0)
    for key in (f"caller-{i}" for i in range(40)):
        expected = "2.0.0" if bucket(split.rollout_id, key) < 30.0 else "1.0.0"
        assert {split.submit(routing_key=key).version for _ in range(5)} == {expected}
    # The idempotency key stands in for a routing key.
    assert len({split.submit(idempotency_key=f"k-{uuid.uuid4()}").version for _ in range(60)}) == 2
    # SubmitJobs splits each job of a call by its own key, as SubmitJob does.
    keyed = [(f"caller-{i}", {}) for i in range(40)] + [("", {}) for _ in range(60)]
    keyed += [("caller-0", {"version": "1.0.0"}), ("caller-0", {"version": "2.0.0"})]
    requests = [
        execution_pb2.SubmitJobRequest(model=split.model, records=[_struct({"n": 0})], routing_key=k, **v)
        for k, v in keyed
    ]
    results = split.jobs.stub().SubmitJobs(
        execution_pb2.SubmitJobsRequest(jobs=requests), metadata=split.mesh.metadata(split.user)
    ).results
    for (key, _), result in zip(keyed[:40], results, strict=False):
        assert result.job.version == ("2.0.0" if bucket(split.rollout_id, key) < 30.0 else "1.0.0")
        assert (result.job.version_route, result.job.rollout_id) == (ROLLOUT, split.rollout_id)
    assert {r.job.version for r in results[40:100]} == {"1.0.0", "2.0.0"}
    assert [(r.job.version, r.job.version_route) for r in results[100:]] == [
        ("1.0.0", job_pb2.VERSION_ROUTE_PINNED), ("2.0.0", job_pb2.VERSION_ROUTE_PINNED),
    ]


def test_jobs_queued_before_a_switch_finish_on_their_own_versions_workers(split: Split) -> None:
    """Blue/green: jobs queued on 1.0.0 when 2.0.0 takes all the traffic still
    run on 1.0.0's worker; a worker of one version never runs another's job."""
    split.start_rollout(50.0, strategy=rollout_pb2.ROLLOUT_STRATEGY_BLUE_GREEN)  # a bake on half
    before = [split.submit(routing_key=f"m-{i}") for i in range(40)]
    assert {j.version for j in before} == {"1.0.0", "2.0.0"}
    split.promote()
    after = [split.submit(routing_key=f"m-{i}") for i in range(20)]
    assert {(j.version, j.version_route) for j in after} == {("2.0.0", job_pb2.VERSION_ROUTE_DEFAULT)}
    blue = start_worker(split.mesh, [f"{split.model}@1.0.0"], "blue", concurrency=4)
    green = start_worker(split.mesh, [f"{split.model}@2.0.0"], "green", concurrency=4)
    try:
        finished = [split.wait(j) for j in [*split.probes, *before, *after]]
        assert {j.status for j in finished} == {S}
        names = {"1.0.0": worker_name(blue), "2.0.0": worker_name(green)}
        for job in finished:
            assert worker_of(split.mesh, job.id) == names[job.version], job.version
        _assert_version_stats_equal(split, finished)
    finally:
        stop_worker(blue)
        stop_worker(green)


def _assert_version_stats_equal(split: Split, finished: list[job_pb2.Job]) -> None:
    admin = admin_pb2_grpc.AdminServiceStub(split.mesh.channel("admin"))
    reply = admin.GetJobStats(
        admin_pb2.GetJobStatsRequest(model=split.model),
        metadata=split.mesh.metadata("root", superuser=True),
    )
    [model] = reply.stats.models
    by_version = {v.version: v for v in model.versions}
    for version in ("1.0.0", "2.0.0"):
        ran = [j for j in finished if j.version == version]
        stats = by_version[version]
        assert (stats.succeeded, stats.failed, stats.queued, stats.running) == (len(ran), 0, 0, 0)
        assert stats.records == len(ran) and stats.drained
        assert stats.execution.count == len(ran)
    assert model.succeeded >= len(finished)


LOGP = {"callable": "workers.builtin.chemistry:logp"}
LOGP_OUTPUT = {"type": "object", "properties": {"logp": {"type": "number"}}, "required": ["logp"]}


def _logp_version(mesh: Mesh, model: str, version: str) -> None:
    message = model_pb2.ModelVersion(version=version)
    message.backend.kind = "python"
    message.backend.config.update(LOGP)
    message.input_schema.update({"type": "object"})
    message.output_schema.update(LOGP_OUTPUT)
    mesh.registry().CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=model, version=message),
        metadata=mesh.metadata("root", superuser=True),
    )


@pytest.mark.usefixtures("builtin_worker", "scheduler_process")
def test_a_consensus_child_under_a_rollout_follows_it_and_the_parent_records_it(
    mesh: Mesh, jobs: Jobs
) -> None:
    su = mesh.metadata("root", superuser=True)
    child = jobs.model(f"child{uuid.uuid4().hex[:6]}")
    mesh.registry().CreateModel(
        registry_pb2.CreateModelRequest(model=model_pb2.Model(name=child)), metadata=su
    )
    for version in ("1.0.0", "2.0.0"):
        _logp_version(mesh, child, version)
    mesh.registry().SetDefaultVersion(
        registry_pb2.SetDefaultVersionRequest(name=child, version="1.0.0"), metadata=su
    )
    parent = jobs.model(f"parent{uuid.uuid4().hex[:6]}")
    yaml = f'"{parent}":\n  CHILDMODELS:\n    A:\n      NAME: "{child}"\n    B:\n      NAME: "rdkit.esol"\n  FORMULA: "A + B"\n'
    mesh.registry().ImportConsensusModel(registry_pb2.ImportConsensusModelRequest(yaml=yaml), metadata=su)
    for name in (child, parent):
        mesh.registry().SetVisibility(
            registry_pb2.SetVisibilityRequest(name=name, visibility=model_pb2.VISIBILITY_PUBLIC), metadata=su
        )
    split = Split(mesh, jobs, child)
    worker = start_worker(mesh, [child], "child-all-versions", concurrency=4)
    try:
        split.start_rollout(100.0)  # the candidate takes every unpinned submission
        request = execution_pb2.SubmitJobRequest(model=parent, records=[_struct({"smiles": "CCO"})])
        job = jobs.stub().SubmitJob(request, metadata=mesh.metadata("alice")).job
        done = jobs.wait(job.id, timeout_s=60)
        assert done.status == S, done.error.message
        children = {c.alias: c for c in done.children}
        assert (children["A"].version, children["A"].version_route) == ("2.0.0", ROLLOUT)
        assert children["B"].version_route == job_pb2.VERSION_ROUTE_DEFAULT
        a = jobs.get(children["A"].job_id)
        assert (a.version, a.version_route, a.rollout_id) == ("2.0.0", ROLLOUT, split.rollout_id)
    finally:
        stop_worker(worker)


HALF_BAD = {"callable": "tests.gateway.execution.callables:half_bad"}


def test_a_candidate_failing_half_its_records_is_rolled_back_and_its_queue_drains_on_it(
    mesh: Mesh, jobs: Jobs
) -> None:
    model = jobs.model(f"canary{uuid.uuid4().hex[:6]}")
    register_backend(mesh, model, "python", ECHO)
    add_version(mesh, model, "2.0.0", "python", HALF_BAD)
    split = Split(mesh, jobs, model)
    mesh.registry().SetDefaultVersion(
        registry_pb2.SetDefaultVersionRequest(name=model, version="1.0.0"), metadata=split.su
    )
    blue = start_worker(mesh, [f"{model}@1.0.0"], "rb-blue", concurrency=4)
    # One job at a time, a tenth of a second each: the candidate's queue is still
    # long when its first ten jobs have tripped the guardrail.
    green = start_worker(mesh, [f"{model}@2.0.0"], "rb-green", concurrency=1)
    try:
        guardrails = rollout_pb2.Guardrails(min_jobs=10, max_failure_rate_increase=0.05, max_p95_ratio=0)
        split.start_rollout(50.0, guardrails)
        records = lambda i: [_struct({"n": 2 * i}), _struct({"n": 2 * i + 1})]  # noqa: E731
        submitted = [
            jobs.stub().SubmitJob(
                execution_pb2.SubmitJobRequest(model=model, records=records(i)),
                metadata=mesh.metadata(split.user),
            ).job
            for i in range(120)
        ]
        rolled_back = _wait_rolled_back(split)
        breach = rolled_back.breach
        assert rolled_back.ended_by == "modelgw-rollouts" and breach.guardrail
        assert 10 <= breach.candidate.jobs < 60  # within its window, not after all ran
        # Half of each job's records; the probes that saw the rollout begin never fail.
        assert breach.candidate.failure_rate == pytest.approx(0.5, abs=0.06)
        split.wait_route(job_pb2.VERSION_ROUTE_DEFAULT, "1.0.0")
        after = [split.submit() for _ in range(30)]
        assert {(j.version, j.version_route) for j in after} == {("1.0.0", job_pb2.VERSION_ROUTE_DEFAULT)}
        candidates = [j for j in submitted if j.version == "2.0.0"]
        queued_at_rollback = len(candidates) - breach.candidate.jobs
        assert queued_at_rollback > 0
        for job in candidates:
            done = split.wait(job)
            assert done.status == S and worker_of(mesh, job.id) == worker_name(green)
            assert [bool(r.error) for r in done.results] == [False, True]
    finally:
        stop_worker(blue)
        stop_worker(green)


def _wait_rolled_back(split: Split, timeout_s: float = 20.0) -> rollout_pb2.Rollout:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rollout = split.rollout()
        if rollout.state == rollout_pb2.ROLLOUT_STATE_ROLLED_BACK:
            return rollout
        time.sleep(0.1)
    raise AssertionError(f"not rolled back: {split.rollout()}")


def test_a_new_versions_first_job_starts_at_once_on_a_worker_of_every_version(
    mesh: Mesh, jobs: Jobs
) -> None:
    """The submission that makes a version's queue announces it: the worker reads it
    at once, though its own look for new versions comes only every 60 s here."""
    model = jobs.model(f"fresh{uuid.uuid4().hex[:6]}")
    register_backend(mesh, model, "python", ECHO)
    worker = spawn_modelgw(
        mesh, ["worker", "--models", model, "--drain-grace", "2"], "worker-fresh",
        {"MODELGW_WORKER_DISCOVERY_SECONDS": "60"},
    )  # fmt: skip
    split = Split(mesh, jobs, model)
    try:
        time.sleep(1.5)  # started and subscribed: it has no version queue to read yet
        for version in ("2.0.0", "3.0.0"):
            add_version(mesh, model, version, "python", ECHO)
            job = split.wait(split.submit(version=version))
            assert job.status == S
            waited = job.start_time.ToDatetime() - job.create_time.ToDatetime()
            assert waited.total_seconds() < 3.0, waited
    finally:
        stop_worker(worker)
