"""The processes `modelgw up` runs after PostgreSQL and Redis, in start order.

A process is added with one line in SERVICES.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from typing import Literal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

Probe = Literal["grpc", "tcp", "none", "exit"]


@dataclass(frozen=True)
class Service:
    """One supervised process.

    `command` defaults to `python -m cli serve NAME`. `port_env` names the
    variable that tells the process its port (passed to it explicitly, with
    `default_port` when unset); `probe` says how the supervisor knows it is ready:
    gRPC health, an open TCP port, not at all (a worker with no port), or "exit": a
    one-shot step, done when it exits 0, before the next process starts. An
    `isolated` process runs owners' code: it gets only the environment
    mesh.isolation allows and, under root, an unprivileged user.
    `sql_console`: the process gets MODELGW_QUERY_DATABASE_URL, the SQL console
    role's DSN (the admin server alone).
    """

    name: str
    port_env: str | None = None
    default_port: int | None = None
    command: tuple[str, ...] | None = None
    probe: Probe = "grpc"
    sql_console: bool = False
    isolated: bool = False

    def argv(self) -> list[str]:
        if self.command is not None:
            return list(self.command)
        return [sys.executable, "-m", "cli", "serve", self.name]


SERVICES: tuple[Service, ...] = (
    Service("registry", "MODELGW_REGISTRY_PORT", 50051),
    Service("execution", "MODELGW_EXECUTION_PORT", 50052),
    Service("admin", "MODELGW_ADMIN_PORT", 50053, sql_console=True),
    # With the platform's credentials, so that the worker never needs them.
    Service(
        "builtins",
        command=(sys.executable, "-m", "cli", "builtins", "register"),
        probe="exit",
    ),
    Service("scheduler", command=(sys.executable, "-m", "cli", "scheduler"), probe="none"),
    Service("audit", command=(sys.executable, "-m", "cli", "audit"), probe="none"),
    Service(
        "worker",
        command=(
            sys.executable,
            "-m",
            "cli",
            "worker",
            "--builtins",
            "--concurrency",
            "32",
        ),
        probe="none",
        isolated=True,
    ),
    # The MCP server for agents; Envoy serves it at /mcp.
    Service("mcp", "MODELGW_MCP_PORT", 50054, (sys.executable, "-m", "cli", "mcp"), "tcp"),
    Service("envoy", "MODELGW_ENVOY_PORT", 8080, (sys.executable, "-m", "gateway.edge"), "tcp"),
)


def is_ready(probe: Probe, host: str, port: int | None) -> bool:
    """Whether a service listening on host:port answers its probe."""
    if probe in ("none", "exit") or port is None:
        return True
    if probe == "tcp":
        return tcp_open(host, port)
    return grpc_serving(host, port)


def grpc_serving(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether grpc.health.v1 on host:port reports the server (service "") SERVING."""
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
