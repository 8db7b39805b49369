"""Each scenario of `make bench` run at one client count against the bench mesh."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
import redis

from loadtest import generator
from loadtest.celery_bench import MAX_THREADS
from loadtest.clients import TERMINAL, channel_options, metadata, submit_request
from loadtest.mesh import (
    BATCH_MODEL,
    E2E_WATCH_MODEL,
    ROLLOUT_MODEL,
    SUBMIT_MODEL,
    WATCH_MODEL,
    BenchMesh,
    cpu_seconds,
    reset_peak_rss,
    rss_bytes,
)
from loadtest.plan import Share
from loadtest.settle import settle
from loadtest.stats import percentile
from modelgateway.v1 import execution_pb2, execution_pb2_grpc
from scheduler import keys

# In this order: watch_many before watch, whose 100,000 streams leave the server's
# allocator larger than before (each run's peak RSS is its own: reset_peak_rss);
# e2e late, since at high client counts it leaves demo.echo's queue
# with a backlog its worker keeps draining after the run (e2e_watch has a model
# and a worker of its own, stopped after each run); submit_batch last, since the
# jobs it queues are never consumed and fill the job store for whatever follows.
SCENARIOS = (
    "echo", "submit", "submit_rollout", "get", "rest_submit", "watch_many", "watch",
    "celery_submit", "celery_e2e", "e2e_watch", "e2e", "submit_batch",
)  # fmt: skip
# submit_batch runs last and up to this many clients: the jobs it queues stay in
# Redis (nothing consumes bench.batch), and a full job store refuses every call.
BATCH_CLIENTS = 100
# From this many clients, each client makes one call (a burst) instead of a closed loop:
# at throughput X a closed loop's latency is clients / X, far beyond any window.
BURST_FROM = 10_000


@dataclass(frozen=True)
class Settings:
    processes: int = 2
    duration_s: float = 6.0
    drain_s: float = 10.0
    # A burst of N clients gets this long to be answered (10,000: 60 s, 100,000: 90 s).
    burst_timeout_s: dict[int, float] = field(default_factory=lambda: {10_000: 60.0, 100_000: 90.0})
    users: int = 16
    jobs_per_user: int = 64
    watch_jobs: int = 1000
    # watch_many: at most this many distinct jobs (like watch), K ids per WatchJobs stream.
    watch_many_jobs: int = 1000
    watch_many_ids: int = 1000
    rest_connections: int = 256
    watch_hold_s: float = 150.0
    watch_finish_s: float = 60.0
    pause_s: float = 1.0  # between runs
    settle_max_s: float = 60.0  # at most this long waiting for a quiet machine (loadtest.settle)
    jobs_per_call: int = 100  # submit_batch: the jobs of one SubmitJobs call


class Runner:
    def __init__(self, mesh: BenchMesh, settings: Settings) -> None:
        self.mesh = mesh
        self.settings = settings
        self.tokens = mesh.tokens(settings.users)
        self.results_jobs: tuple[tuple[str, ...], ...] = ()
        self.celery_started = False

    def base(self, scenario: str, clients: int) -> Share:
        s = self.settings
        return Share(
            scenario=scenario,
            clients=clients,
            start_at=0.0,
            duration_s=self.burst_timeout(clients) if clients >= BURST_FROM else s.duration_s,
            target=self.mesh.execution_address,
            tokens=self.tokens,
            drain_s=0.0 if clients >= BURST_FROM else s.drain_s,
            calls_per_client=1 if clients >= BURST_FROM else 0,
            # Many connections, as many clients would open, so that the kernel
            # spreads them evenly over the server processes (SO_REUSEPORT
            # balances connections, not calls): 10 connections over 2 processes
            # split 7/3 often enough to skew a run.
            clients_per_channel=max(1, math.ceil(clients / 200)) if clients > 20_000 else 25,
            options={"rest_connections": s.rest_connections},
        )

    def burst_timeout(self, clients: int) -> float:
        table = self.settings.burst_timeout_s
        return table.get(clients) or max(table.values()) * clients / max(table)

    def run(self, scenario: str, clients: int) -> dict[str, Any]:
        load = os.getloadavg()
        if scenario in ("celery_submit", "celery_e2e") and clients > MAX_THREADS:
            return {
                "skipped": f"Celery clients are threads; not run above {MAX_THREADS}",
                "load": load,
            }
        settled = settle(self.settings.settle_max_s)
        load = os.getloadavg()
        figures: dict[str, Any] = getattr(self, f"_{scenario}")(clients)
        figures["load_before"] = load
        figures.update(settled.figures())
        return figures

    # -- the scenarios --------------------------------------------------------------
    def _echo(self, clients: int) -> dict[str, Any]:
        share = replace(self.base("echo", clients), target=self.mesh.echo_address)
        return _with_server_cpu(self.mesh.echo_pid, None, share, self.settings.processes)

    def _submit(self, clients: int) -> dict[str, Any]:
        return self._measured(replace(self.base("submit", clients), model=SUBMIT_MODEL))

    def _submit_rollout(self, clients: int) -> dict[str, Any]:
        with self.mesh.rollout(ROLLOUT_MODEL):
            share = replace(self.base("submit_rollout", clients), model=ROLLOUT_MODEL)
            return self._measured(share)

    def _submit_batch(self, clients: int) -> dict[str, Any]:
        """SubmitJobs of jobs_per_call one-record jobs to bench.batch: accepted jobs/s."""
        per_call = self.settings.jobs_per_call
        if clients > BATCH_CLIENTS:
            # 1,000 clients at ~100 jobs a call fill the bench Redis (1 GB, no worker
            # consumes bench.batch) within seconds: every later call would be refused.
            jobs = f"{clients:,} clients of {per_call} jobs a call"
            return {"skipped": f"{jobs} would fill the bench's job store"}
        base = self.base("submit_batch", clients)
        share = replace(
            base, model=BATCH_MODEL, options={**base.options, "jobs_per_call": per_call}
        )
        figures = self._measured(share)
        figures["jobs_per_call"] = per_call
        figures["jobs_per_s"] = figures["requests_per_s"] * per_call
        for name in ("server", "redis"):
            if figures.get(f"{name}_cpu_us_per_call") is not None:
                figures[f"{name}_cpu_us_per_job"] = figures[f"{name}_cpu_us_per_call"] / per_call
        return figures

    def _get(self, clients: int) -> dict[str, Any]:
        if not self.results_jobs:
            self.results_jobs = asyncio.run(self._finished_jobs())
        return self._measured(replace(self.base("get", clients), job_ids=self.results_jobs))

    def _e2e(self, clients: int) -> dict[str, Any]:
        share = self.base("e2e", clients)
        figures = self._measured(share)
        if figures["cut"]:
            # A burst's cut jobs are still queued, and the mesh's worker runs them:
            # left alone it would load the machine under the scenarios after this one.
            figures["drained_after_s"] = self._drain(share.model)
        return figures

    def _drain(self, model: str, most_s: float = 300.0) -> float | None:
        """Seconds until no job of the model is queued or running; None past most_s."""
        started = time.monotonic()
        with redis.Redis.from_url(self.mesh.redis_url) as client:
            while time.monotonic() - started < most_s:
                left = client.hmget(keys.counts(model), "QUEUED", "RUNNING")
                if not any(int(n or 0) > 0 for n in left):
                    return time.monotonic() - started
                time.sleep(1.0)
        return None

    def _e2e_watch(self, clients: int) -> dict[str, Any]:
        # The same worker settings as demo.echo's in the e2e scenario.
        self.mesh.start_worker("e2e-watch-worker", E2E_WATCH_MODEL)
        try:
            return self._measured(replace(self.base("e2e_watch", clients), model=E2E_WATCH_MODEL))
        finally:
            self.mesh.stop_process("e2e-watch-worker")

    def _rest_submit(self, clients: int) -> dict[str, Any]:
        share = replace(
            self.base("rest_submit", clients), target=self.mesh.envoy_url, model=SUBMIT_MODEL
        )
        return self._measured(share)

    def _celery_submit(self, clients: int) -> dict[str, Any]:
        # No worker while submitting (like bench.submit, which no worker serves);
        # the backlog is purged afterwards so the end-to-end runs start clean.
        share = replace(self.base("celery_submit", clients), target=self.mesh.celery_url)
        figures = generator.run(share, self.settings.processes)
        from loadtest.celery_bench import make_app

        make_app(self.mesh.celery_url).control.purge()
        return figures

    def _celery_e2e(self, clients: int) -> dict[str, Any]:
        if not self.celery_started:
            self.mesh.start_celery_worker()
            time.sleep(3 if self.settings.processes else 1.5)
            self.celery_started = True
        share = replace(self.base("celery_e2e", clients), target=self.mesh.celery_url)
        return generator.run(share, self.settings.processes)

    def _measured(self, share: Share) -> dict[str, Any]:
        """A run against the gateway, with the execution server's memory after it."""
        figures = _with_server_cpu(
            self.mesh.execution_pid, self.mesh.redis_pid, share, self.settings.processes
        )
        figures["gateway_rss_mb"], figures["gateway_peak_rss_mb"] = (
            v / 2**20 for v in rss_bytes(self.mesh.execution_pid)
        )
        return figures

    def _watch(self, clients: int) -> dict[str, Any]:
        jobs = min(clients, self.settings.watch_jobs)
        tokens = self.tokens[: min(len(self.tokens), jobs)]
        rss_before = self._fresh_peak()
        per_user = asyncio.run(self._submit_jobs(WATCH_MODEL, jobs, tokens))
        share = replace(
            self.base("watch", clients),
            tokens=tokens,
            job_ids=per_user,
            duration_s=self.settings.watch_finish_s,
            hold_timeout_s=self.settings.watch_hold_s,
        )
        procs = generator.Processes(
            share.split(max(1, self.settings.processes)), inline=self.settings.processes == 0
        )
        try:
            began = time.monotonic()
            held = procs.messages("held", self.settings.watch_hold_s + 60)
            hold_s = time.monotonic() - began
            rss_held = rss_bytes(self.mesh.execution_pid)[0]
            released = time.time()
            self.mesh.start_worker("watch-worker", WATCH_MODEL, concurrency=64)
            procs.release.set()
            tallies = procs.messages("done", self.settings.watch_finish_s + 60)
        finally:
            procs.close()
            self.mesh.stop_process("watch-worker")
        figures = _watch_figures(
            clients,
            jobs,
            held,
            hold_s,
            released,
            tallies,
            rss_held,
            rss_bytes(self.mesh.execution_pid)[1],
        )
        figures["gateway_rss_before_mb"] = rss_before / 2**20
        return figures

    def _watch_many(self, clients: int) -> dict[str, Any]:
        """`clients` watched jobs on WatchJobs streams of watch_many_ids ids each,
        over at most watch_many_jobs jobs (of one user, or of several when there are
        many: see loadtest.watch_many), then their jobs completed."""
        jobs = min(clients, self.settings.watch_many_jobs)
        users = max(1, min(len(self.tokens), jobs // self.settings.watch_many_ids))
        rss_before = self._fresh_peak()
        per_user = asyncio.run(self._submit_jobs(WATCH_MODEL, jobs, self.tokens[:users]))
        per_stream = min(self.settings.watch_many_ids, *(len(ids) for ids in per_user))
        streams = math.ceil(clients / per_stream)
        share = replace(
            self.base("watch_many", streams),
            tokens=self.tokens[:users],
            job_ids=per_user,
            duration_s=self.settings.watch_finish_s,
            hold_timeout_s=self.settings.watch_hold_s,
            clients_per_channel=25,
            options={"ids_per_stream": per_stream, "watched": clients},
        )
        procs = generator.Processes(
            share.split(max(1, self.settings.processes)), inline=self.settings.processes == 0
        )
        try:
            began = time.monotonic()
            held = procs.messages("held", self.settings.watch_hold_s + 60)
            hold_s = time.monotonic() - began
            rss_held = rss_bytes(self.mesh.execution_pid)[0]
            released, cpu_held = time.time(), cpu_seconds(self.mesh.execution_pid)
            self.mesh.start_worker("watch-worker", WATCH_MODEL, concurrency=64)
            procs.release.set()
            tallies = procs.messages("done", self.settings.watch_finish_s + 60)
            cpu_after = cpu_seconds(self.mesh.execution_pid) - cpu_held
        finally:
            procs.close()
            self.mesh.stop_process("watch-worker")
        figures = _watch_figures(
            streams, jobs, held, hold_s, released, tallies, rss_held,
            rss_bytes(self.mesh.execution_pid)[1],
        )  # fmt: skip
        messages = sum(t["extra"]["messages"] for t in tallies)
        entries = sum(t["extra"]["entries"] for t in tallies)
        figures.update(
            watched=clients,
            ids_per_stream=per_stream,
            held_streams=sum(h["held"] for h in held),
            held=sum(h["held_jobs"] for h in held) - figures["failed"],
            messages=messages,
            entries_per_message=entries / messages if messages else math.nan,
            server_cpu_after_release_s=cpu_after,
            gateway_rss_before_mb=rss_before / 2**20,
        )
        return figures

    def _fresh_peak(self) -> int:
        """The execution server's RSS now; its peak RSS from here on is the run's own."""
        reset_peak_rss(self.mesh.execution_pid)
        return rss_bytes(self.mesh.execution_pid)[0]

    # -- preparation ----------------------------------------------------------------
    async def _finished_jobs(self) -> tuple[tuple[str, ...], ...]:
        """Jobs of demo.echo per bench user, waited for until finished: GetJob reads results."""
        count = self.settings.users * self.settings.jobs_per_user
        per_user = await self._submit_jobs("demo.echo", count, self.tokens)
        async with grpc.aio.insecure_channel(
            self.mesh.execution_address, options=channel_options()
        ) as ch:
            stub = execution_pb2_grpc.ExecutionServiceStub(ch)
            for user, ids in enumerate(per_user):
                for job_id in ids:
                    await _wait_final(stub, job_id, metadata(self.tokens[user]))
        return per_user

    async def _submit_jobs(
        self, model: str, count: int, tokens: tuple[str, ...]
    ) -> tuple[tuple[str, ...], ...]:
        """`count` (at least len(tokens)) jobs spread over the users of `tokens`; ids per user."""
        users = len(tokens)
        async with grpc.aio.insecure_channel(
            self.mesh.execution_address, options=channel_options()
        ) as ch:
            stub = execution_pb2_grpc.ExecutionServiceStub(ch)
            sem = asyncio.Semaphore(200)

            async def one(i: int) -> tuple[int, str]:
                async with sem:
                    reply = await stub.SubmitJob(
                        submit_request(model), metadata=metadata(tokens[i % users])
                    )
                    return i % users, reply.job.id

            done = await asyncio.gather(*(one(i) for i in range(count)))
        ids: list[list[str]] = [[] for _ in range(users)]
        for user, job_id in done:
            ids[user].append(job_id)
        return tuple(tuple(x) for x in ids)


def _with_server_cpu(
    server_pid: int, redis_pid: int | None, share: Share, processes: int
) -> dict[str, Any]:
    """Runs the share, adding the server's CPU time per answered call (unlike
    requests/s, it hardly moves with what else the machine is doing) and
    Redis's, which shares the machine with the server and the load."""
    meters: dict[str, Callable[[], float]] = {"server": lambda: cpu_seconds(server_pid)}
    if redis_pid is not None:
        # Redis's own process only: a child it forks (an AOF rewrite) takes its
        # CPU time with it when it exits, and the sum would fall.
        meters["redis"] = lambda: cpu_seconds(redis_pid, with_descendants=False)
    before = {name: meter() for name, meter in meters.items()}
    figures = generator.run(share, processes)
    answered = figures["ok"] + figures["failed"]
    for name, meter in meters.items():
        spent = meter() - before[name]
        figures[f"{name}_cpu_us_per_call"] = spent * 1e6 / answered if answered else None
    return figures


async def _wait_final(stub: execution_pb2_grpc.ExecutionServiceStub, job_id: str, md: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = (await stub.GetJob(execution_pb2.GetJobRequest(id=job_id), metadata=md)).job
        if job.status in TERMINAL:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not finish within 60 s")


def _watch_figures(
    clients: int,
    jobs: int,
    held: list[dict[str, Any]],
    hold_s: float,
    released: float,
    tallies: list[dict[str, Any]],
    rss_held: int,
    rss_peak: int,
) -> dict[str, Any]:
    from array import array

    delays = sorted(d for t in tallies for d in array("d", t["latencies"]))
    failures: dict[str, int] = {}
    for t in tallies:
        for code, n in t["failures"].items():
            failures[code] = failures.get(code, 0) + n
    last = max((t["extra"]["last_arrival"] for t in tallies), default=math.nan)
    received = sum(t["ok_total"] for t in tallies)
    return {
        "streams": clients,
        "jobs": jobs,
        "held": sum(h["held"] for h in held) - sum(failures.values()),
        "hold_all_s": hold_s,
        "terminal_received": received,
        "failed": sum(t["failed_total"] for t in tallies),
        "cut": sum(len(array("d", t["cut"])) for t in tallies),
        "failure_codes": failures,
        "release_to_all_s": last - released,
        "delay_p50_ms": percentile(delays, 50) * 1000,
        "delay_p95_ms": percentile(delays, 95) * 1000,
        "delay_p99_ms": percentile(delays, 99) * 1000,
        "delay_max_ms": (delays[-1] * 1000) if delays else math.nan,
        "gateway_rss_held_mb": rss_held / 2**20,
        "gateway_peak_rss_mb": rss_peak / 2**20,
    }
