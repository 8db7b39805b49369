"""The bench's own mesh: PostgreSQL, Redis, the registry and execution servers, the
scheduler and Envoy (mesh.supervisor) on free ports in a scratch
MODELGW_HOME, plus the workers, the echo ceiling and Celery the bench controls.

The execution server and the echo ceiling run as the same number of processes
sharing their port (gateway.prefork), so that the ratio between them stays fair."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import grpc

from gateway.admin.catalog import load
from gateway.admin.register import register_builtins, version_message
from gateway.authn import create_token
from gateway.config import DEFAULT_CATALOG, METRICS_PORTS, GatewayConfig
from mesh import LocalRedis, MeshError, free_port
from mesh.services import SERVICES, Service, tcp_open
from mesh.supervisor import Mesh, MeshConfig
from modelgateway.v1 import (
    model_pb2,
    registry_pb2,
    registry_pb2_grpc,
    rollout_pb2,
    rollout_pb2_grpc,
)

# Echo copies no worker serves while the bench runs (submit) or until released (watch).
SUBMIT_MODEL = "bench.submit"
WATCH_MODEL = "bench.watch"
# SubmitJobs of many jobs a call, no worker serving it: a model of its own, since its
# backlog grows ten times as fast as bench.submit's.
BATCH_MODEL = "bench.batch"
# End to end by watching: a model of its own, whose worker runs only during that
# scenario, so that its backlog after a burst never slows another scenario.
E2E_WATCH_MODEL = "bench.e2e-watch"
# An echo copy with a second version, under a 10% canary while submit_rollout runs:
# submission with a traffic split to make, against bench.submit without one.
ROLLOUT_MODEL = "bench.rollout"
ROLLOUT_CANDIDATE = "2.0.0"
# The admin server serves the rollouts (its controller ticks once a second).
_MESH_SERVICES = ("registry", "execution", "admin", "scheduler", "envoy")


class _BenchMesh(Mesh):
    def __init__(
        self, config: MeshConfig, extra_env: Mapping[str, str], server_processes: int
    ) -> None:
        super().__init__(
            config,
            [_with_processes(s, server_processes) for s in SERVICES if s.name in _MESH_SERVICES],
        )
        self.extra_env = dict(extra_env)

    def child_env(self, database_url: str, redis_url: str) -> dict[str, str]:
        return {**super().child_env(database_url, redis_url), **self.extra_env}


class BenchMesh:
    """Start with start(), stop with stop() (in a finally); stop is safe to call twice."""

    def __init__(self, home: Path | None = None, server_processes: int = 1) -> None:
        self.server_processes = server_processes
        self.home = home or Path(tempfile.mkdtemp(prefix="modelgw-bench-", dir="/tmp"))
        self.home.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root
        self.ports = {
            name: free_port()
            for name in ("registry", "execution", "admin", "envoy", "envoy_admin", "echo")
        }
        config = MeshConfig(
            home=self.home,
            pg_port=free_port(),
            redis_port=free_port(),
            service_ports={
                "MODELGW_REGISTRY_PORT": self.ports["registry"],
                "MODELGW_EXECUTION_PORT": self.ports["execution"],
                "MODELGW_ADMIN_PORT": self.ports["admin"],
                "MODELGW_ENVOY_PORT": self.ports["envoy"],
            },
            # A whole bench queues over a million jobs no worker drains (submit
            # bursts, submit_batch): with `make up`'s 1 GB the job store filled and
            # every scenario after it was refused RESOURCE_EXHAUSTED.
            redis_maxmemory="8gb",
        )
        extra = {
            "MODELGW_ENVOY_ADMIN_PORT": str(self.ports["envoy_admin"]),
            **{f"MODELGW_{name.upper()}_METRICS_PORT": "0" for name in METRICS_PORTS},
            # Each user's rate stays checked, far above what the bench's 16 users send
            # (submit_batch sends over 1,000 jobs/s each): the platform is measured,
            # not the default of 200 jobs/s a user.
            "MODELGW_USER_JOBS_PER_SECOND": "100000",
            "MODELGW_USER_JOBS_BURST": "100000",
            # and the queues no worker drains may hold what a whole bench sends them.
            "MODELGW_MODEL_MAX_QUEUED": "10000000",
            "MODELGW_MODEL_MAX_QUEUED_RECORDS": "10000000",
        }
        self.mesh = _BenchMesh(config, extra, server_processes)
        self.celery_redis = LocalRedis(self.home / "celery-redis", free_port())
        self.env: dict[str, str] = {}
        self.extra: dict[str, subprocess.Popen[bytes]] = {}

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self.mesh.start()
        self.env = self.mesh.child_env(self.mesh.postgres.dsn, self.mesh.redis.url)
        self._wait_envoy()
        asyncio.run(self._register())
        self.extra["worker"] = self._spawn("worker", self.worker_argv("demo.echo"))
        self.extra["echo"] = self._spawn(
            "echo",
            [
                sys.executable,
                "-m",
                "loadtest.echo_server",
                str(self.ports["echo"]),
                "--processes",
                str(self.server_processes),
            ],
        )
        self._wait(lambda: grpc_serving_raw(self.echo_address), "echo server")
        self.celery_url = self.celery_redis.start()

    def stop(self) -> None:
        for name in list(self.extra):
            _terminate(self.extra.pop(name))
        try:
            self.mesh.stop()
        finally:
            self.celery_redis.stop()

    def cleanup(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    # -- what the scenarios need -----------------------------------------------------
    @property
    def execution_address(self) -> str:
        return f"127.0.0.1:{self.ports['execution']}"

    @property
    def echo_address(self) -> str:
        return f"127.0.0.1:{self.ports['echo']}"

    @property
    def envoy_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['envoy']}"

    @property
    def echo_pid(self) -> int:
        return self.extra["echo"].pid

    @property
    def execution_pid(self) -> int:
        """The execution server's process; with several, their parent (see rss_bytes)."""
        return self.mesh.children["execution"].pid

    @property
    def redis_pid(self) -> int | None:
        """The gateway's Redis server (its CPU is part of what a submission costs)."""
        process = self.mesh.redis.process
        return None if process is None else process.pid

    @property
    def redis_url(self) -> str:
        return self.mesh.redis.url

    def tokens(self, count: int, ttl_s: int = 4 * 3600) -> tuple[str, ...]:
        auth = GatewayConfig.from_env(self.env).auth
        return tuple(
            create_token(auth, f"bench-{i:03d}", superuser=False, ttl_s=ttl_s) for i in range(count)
        )

    def worker_argv(self, models: str, concurrency: int = 32) -> list[str]:
        return [
            sys.executable,
            "-m",
            "cli",
            "worker",
            "--models",
            models,
            "--concurrency",
            str(concurrency),
            "--drain-grace",
            "2",
        ]

    def start_worker(
        self, name: str, models: str, concurrency: int = 32
    ) -> subprocess.Popen[bytes]:
        self.extra[name] = self._spawn(name, self.worker_argv(models, concurrency))
        return self.extra[name]

    def stop_process(self, name: str) -> None:
        if name in self.extra:
            _terminate(self.extra.pop(name))

    def start_celery_worker(self) -> None:
        from loadtest.celery_bench import start_worker

        self.extra["celery"] = start_worker(self.celery_url, self.home / "logs" / "celery.log")

    def redis_memory(self) -> str:
        out = subprocess.run(
            ["redis-cli", "-u", self.mesh.redis.url, "--no-auth-warning", "info", "memory"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return next(
            (
                line.split(":")[1].strip()
                for line in out.splitlines()
                if line.startswith("used_memory_human")
            ),
            "?",
        )

    # -- helpers ---------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.home / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            # No preexec_fn: this process already runs gRPC threads, and code run
            # between fork and exec can deadlock on their locks.
            return subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def _wait(self, ready: object, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise MeshError(
                    f"{what} not ready within {timeout_s:.0f}s (logs in {self.home}/logs)"
                )
            time.sleep(0.2)

    def _wait_envoy(self) -> None:
        def ready() -> bool:
            try:
                url = f"http://127.0.0.1:{self.ports['envoy_admin']}/ready"
                with urllib.request.urlopen(url, timeout=1) as reply:
                    return bool(reply.status == 200)
            except OSError:
                return False

        self._wait(ready, "envoy")

    async def _register(self) -> None:
        """The built-in models (as `modelgw builtins register` does) and the echo copies."""
        auth = GatewayConfig.from_env(self.env).auth
        token = create_token(auth, "bench-admin", superuser=True, ttl_s=600)
        registry = f"127.0.0.1:{self.ports['registry']}"
        await register_builtins(registry, token)
        md = (("authorization", f"Bearer {token}"),)
        async with grpc.aio.insecure_channel(registry) as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            for name in (SUBMIT_MODEL, BATCH_MODEL, WATCH_MODEL, E2E_WATCH_MODEL, ROLLOUT_MODEL):
                await _register_echo_copy(stub, name, md)
            await _add_candidate(stub, ROLLOUT_MODEL, md)

    @contextlib.contextmanager
    def rollout(self, model: str, percent: float = 10.0) -> Iterator[None]:
        """A canary of ROLLOUT_CANDIDATE at `percent` on model while the block runs:
        a week's bake and no guardrail that could end it; rolled back afterwards."""
        auth = GatewayConfig.from_env(self.env).auth
        token = create_token(auth, "bench-admin", superuser=True, ttl_s=3600)
        md = (("authorization", f"Bearer {token}"),)
        with grpc.insecure_channel(f"127.0.0.1:{self.ports['admin']}") as channel:
            stub = rollout_pb2_grpc.RolloutServiceStub(channel)
            request = rollout_pb2.StartRolloutRequest(
                model=model, candidate_version=ROLLOUT_CANDIDATE,
                strategy=rollout_pb2.ROLLOUT_STRATEGY_CANARY, canary_percent=percent,
                bake_seconds=604_800,
                guardrails=rollout_pb2.Guardrails(min_jobs=1_000_000, max_p95_ratio=0),
            )  # fmt: skip
            stub.StartRollout(request, metadata=md, timeout=30)
            time.sleep(1.0)  # the execution servers hear of it by NOTIFY, within milliseconds
            try:
                yield
            finally:
                stub.RollBackRollout(
                    rollout_pb2.RollBackRolloutRequest(model=model, reason="bench done"),
                    metadata=md,
                    timeout=30,
                )


async def _register_echo_copy(
    stub: registry_pb2_grpc.RegistryServiceStub, name: str, md: tuple[tuple[str, str], ...]
) -> None:
    (echo,) = [m for m in load(DEFAULT_CATALOG, None) if m.name == "demo.echo"]
    model = model_pb2.Model(
        name=name,
        display_name=f"{echo.display_name} ({name})",
        description=echo.description,
    )
    try:
        await stub.CreateModel(registry_pb2.CreateModelRequest(model=model), metadata=md)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        return
    version = version_message(echo.versions[0])
    await stub.CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=name, version=version), metadata=md
    )
    await stub.SetVisibility(
        registry_pb2.SetVisibilityRequest(name=name, visibility=model_pb2.VISIBILITY_PUBLIC),
        metadata=md,
    )


async def _add_candidate(
    stub: registry_pb2_grpc.RegistryServiceStub, name: str, md: tuple[tuple[str, str], ...]
) -> None:
    """The echo copy's second version, the same backend; its first stays the default."""
    (echo,) = [m for m in load(DEFAULT_CATALOG, None) if m.name == "demo.echo"]
    version = version_message(echo.versions[0])
    version.version = ROLLOUT_CANDIDATE
    try:
        await stub.CreateModelVersion(
            registry_pb2.CreateModelVersionRequest(model=name, version=version), metadata=md
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
    await stub.SetDefaultVersion(
        registry_pb2.SetDefaultVersionRequest(name=name, version=echo.versions[0].version),
        metadata=md,
    )


def grpc_serving_raw(address: str) -> bool:
    """Whether a gRPC server without the health service accepts a connection."""
    host, port = address.rsplit(":", 1)
    if not tcp_open(host, int(port)):
        return False
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=1)
            return True
        except grpc.FutureTimeoutError:
            return False


def _with_processes(service: Service, processes: int) -> Service:
    """The execution server as `processes` processes sharing its port."""
    if service.name != "execution" or processes == 1:
        return service
    return replace(service, command=(*service.argv(), "--processes", str(processes)))


def rss_bytes(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process and its descendants, summed, from /proc.

    A prefork server is a parent and its children: its memory is all of theirs.
    The summed peak is the sum of each process's own peak, an upper bound of the
    peak of their sum.
    """
    current = peak = 0
    for one in (pid, *_descendants(pid)):
        fields = {}
        try:
            lines = Path(f"/proc/{one}/status").read_text().splitlines()
        except (FileNotFoundError, ProcessLookupError):  # exited since it was listed
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        current += fields.get("VmRSS", 0)
        peak += fields.get("VmHWM", 0)
    return current, peak


def reset_peak_rss(pid: int) -> None:
    """Starts a process's (and its descendants') peak RSS afresh, so that a scenario's
    peak is its own, not an earlier one's (Linux: "5" to /proc/PID/clear_refs)."""
    for one in (pid, *_descendants(pid)):
        try:
            Path(f"/proc/{one}/clear_refs").write_text("5")
        except (FileNotFoundError, PermissionError):  # exited, or not ours to reset
            continue


def cpu_seconds(pid: int, *, with_descendants: bool = True) -> float:
    """CPU time (user + system) a process (and its descendants) have used, from /proc.

    With descendants, those that exited count too: a prefork parent replaces a
    child that grew (gateway.recycling), and the old child's time moves into its
    parent's cutime and cstime once reaped, so a scenario's figure never drops.
    """
    ticks = 0
    for one in (pid, *(_descendants(pid) if with_descendants else ())):
        try:
            stat = Path(f"/proc/{one}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):  # exited since it was listed
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        if with_descendants:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children reaped
    return ticks / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> Iterator[int]:
    # Every process's parent, from /proc/PID/stat (this kernel has no
    # /proc/PID/task/TID/children); the command in field 2 may hold spaces.
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry))
    pending = list(parents.get(pid, ()))
    while pending:
        child = pending.pop()
        yield child
        pending.extend(parents.get(child, ()))


def _terminate(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
