"""Running the gateway servers as real processes (`modelgw serve ...`) over
loopback, with real tokens and gRPC stubs: the pieces the fixtures build on."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.authn import create_token
from gateway.config import GatewayConfig
from mesh import free_port  # re-exported for the tests
from modelgateway.v1 import model_pb2, registry_pb2_grpc

SERVICES = ("registry", "execution", "admin")


@dataclass
class Mesh:
    """Running gateway servers and what a test needs to call them."""

    env: dict[str, str]
    addresses: dict[str, str]
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    channels: dict[str, grpc.Channel] = field(default_factory=dict)
    # Metrics ports of the servers, passed to each alone (mesh.env turns them
    # off, so that a second server started from it does not collide).
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def config(self) -> GatewayConfig:
        return GatewayConfig.from_env(self.env)

    def token(self, user: str, *, superuser: bool = False, ttl_s: int = 3600) -> str:
        return create_token(self.config.auth, user, superuser=superuser, ttl_s=ttl_s)

    def metadata(self, user: str, *, superuser: bool = False) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(user, superuser=superuser)}"),)

    def channel(self, service: str) -> grpc.Channel:
        if service not in self.channels:
            self.channels[service] = grpc.insecure_channel(self.addresses[service])
        return self.channels[service]

    def registry(self) -> registry_pb2_grpc.RegistryServiceStub:
        return registry_pb2_grpc.RegistryServiceStub(self.channel("registry"))


def start_server(mesh: Mesh, service: str, *options: str) -> None:
    """`modelgw serve SERVICE OPTIONS...` with the mesh's environment and ports."""
    log = mesh.logs[service].open("ab")
    mesh.processes[service] = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", service, *options],
        env={**mesh.env, **_metrics_env(mesh, service)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@contextlib.contextmanager
def serving(mesh: Mesh, services: Iterable[str]) -> Iterator[Mesh]:
    """Runs `services` of `mesh` as processes until the block ends: started, waited
    for until they serve, then stopped (SIGTERM, SIGKILL after 15 s) with its channels."""
    services = list(services)
    for service in services:
        start_server(mesh, service)
    try:
        for service in services:
            wait_serving(mesh, service)
        yield mesh
    finally:
        for channel in mesh.channels.values():
            channel.close()
        for process in mesh.processes.values():
            process.terminate()
        for process in mesh.processes.values():
            wait_or_kill(process, 15)


@contextlib.contextmanager
def own_servers(base: Mesh, home: Path, services: Sequence[str], **settings: str) -> Iterator[Mesh]:
    """Gateway servers of their own on free ports, with `base`'s environment (the
    same signing key, so the session's tokens work) and `settings` over it."""
    ports = {s: free_port() for s in services}
    env = {
        **base.env,
        **settings,
        **{f"MODELGW_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        **{f"MODELGW_{s.upper()}_METRICS_PORT": "0" for s in ports},
    }
    own = Mesh(env=env, addresses={s: f"127.0.0.1:{p}" for s, p in ports.items()},
               logs={s: home / f"{s}.log" for s in ports})
    with serving(own, ports):
        yield own


def _metrics_env(mesh: Mesh, service: str) -> dict[str, str]:
    port = mesh.metrics_ports.get(service)
    return {} if port is None else {f"MODELGW_{service.upper()}_METRICS_PORT": str(port)}


class ServerExited(RuntimeError):
    """A server process ended before it served; `log` is its log's tail."""

    def __init__(self, service: str, code: int, log: str) -> None:
        super().__init__(f"{service} server exited {code}:\n{log}")
        self.log = log


# What a server says when a port it was given is taken (the gRPC port, the metrics one).
PORT_TAKEN = ("cannot listen on", "Address already in use")


def wait_serving(mesh: Mesh, service: str, timeout_s: float = 30.0) -> None:
    """Until `service` answers its health check as SERVING.

    A server that lost a port it was given to another process, between free_port()
    and its own bind (other test runs on the machine pick from the same range), is
    started again on new ports, twice at the most.
    """
    for _ in range(2):
        try:
            _until_serving(mesh, service, timeout_s)
            return
        except ServerExited as exited:
            if not any(words in exited.log for words in PORT_TAKEN):
                raise
        # Started again as it was (`serve SERVICE` and its options), on new ports.
        argv = [str(arg) for arg in mesh.processes[service].args]
        _move(mesh, service)
        start_server(mesh, service, *argv[argv.index("serve") + 2 :])
    _until_serving(mesh, service, timeout_s)


def _move(mesh: Mesh, service: str) -> None:
    """New ports for `service`, in the addresses, the environment and the metrics ports."""
    port = free_port()
    mesh.env[f"MODELGW_{service.upper()}_PORT"] = str(port)
    mesh.addresses[service] = f"127.0.0.1:{port}"
    if service in mesh.metrics_ports:
        mesh.metrics_ports[service] = free_port()
    channel = mesh.channels.pop(service, None)
    if channel is not None:
        channel.close()


def _until_serving(mesh: Mesh, service: str, timeout_s: float) -> None:
    stub = health_pb2_grpc.HealthStub(mesh.channel(service))
    deadline = time.monotonic() + timeout_s
    while True:
        process = mesh.processes[service]
        if process.poll() is not None:
            raise ServerExited(service, process.returncode, mesh.logs[service].read_text()[-3000:])
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service} server not serving after {timeout_s}s")
        time.sleep(0.1)


@dataclass
class Fixture:
    """A model created by a superuser, with two versions, an owner and a reader."""

    name: str
    owner: str
    reader: str


HOSTILE_NAMES = (
    "owner", "reader", "superuser", "role:owner", "role:reader", "group:everyone",
    "user:owner", "everyone", "role:", "user:", "*:", ":",
)
"""User names that spell a role, the public group or the namespace separators of
the Casbin lines (authz/grants.py): each must fare as any stranger does."""


def matrix_cases(
    matrix: dict[str, Any], roles: tuple[str, ...], names: tuple[str, ...] = HOSTILE_NAMES
) -> list[Any]:
    """pytest params (rpc, role, expected) of a role matrix, plus a stranger
    named after each of `names` expecting what a stranger gets."""
    import pytest

    cases = [
        pytest.param(rpc, role, expected[i], id=f"{rpc}-{role}")
        for rpc, (_, expected) in matrix.items()
        for i, role in enumerate(roles)
    ]
    return cases + [
        pytest.param(rpc, f"named:{name}", expected[roles.index("stranger")], id=f"{rpc}-named:{name}")
        for rpc, (_, expected) in matrix.items()
        for name in names
    ]


def redis_once(**connection: Any) -> redis.Redis:
    """A Redis client that tries each call once: for asserting that a server is down
    or refuses a password (redis-py's default retries ten times, with backoff: about
    4 s before the error)."""
    return redis.Redis(retry=Retry(NoBackoff(), 0), **connection)


def unique_name(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def any_object_version(version: str) -> model_pb2.ModelVersion:
    version_msg = model_pb2.ModelVersion(version=version, notes=f"release {version}")
    version_msg.backend.kind = "python"
    version_msg.backend.config.update({"callable": "workers.builtin.demo:echo"})
    version_msg.input_schema.update(
        {"type": "object", "properties": {"smiles": {"type": "string"}}, "required": ["smiles"]}
    )
    version_msg.output_schema.update({"type": "object", "properties": {"value": {"type": "number"}}})
    return version_msg


def spawn_modelgw(
    mesh: Mesh, args: list[str], log_name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`modelgw ARGS` as a process with the mesh's environment (and env on top), its
    output in a log file beside the servers' logs."""
    log = (mesh.logs["registry"].parent / f"{log_name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        env={**mesh.env, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """SIGTERM (the drain a process gets in production), then SIGKILL past timeout_s."""
    if process.poll() is None:
        process.terminate()
        wait_or_kill(process, timeout_s)


def wait_or_kill(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Waits for a process sent SIGTERM; past timeout_s, SIGKILL and a warning (shown
    in pytest's summary): a process that does not stop when asked is a fault."""
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stacks = _stacks(process.pid)
        process.kill()
        process.wait()
        warnings.warn(
            f"{' '.join(map(str, process.args))[-200:]} did not stop within {timeout_s} s "
            f"of SIGTERM: killed. Where it was:\n{stacks}",
            stacklevel=2,
        )


def _stacks(pid: int) -> str:
    """The Python stacks of a process, by py-spy (a dev dependency), to tell why it
    hung; what went wrong instead, if it could not read them."""
    spy = Path(sys.executable).with_name("py-spy")
    try:
        done = subprocess.run(
            [str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(no stacks: {exc})"
    return done.stdout or done.stderr
