"""`modelgw mcp` as a process, behind a real Envoy, in front of the session's mesh."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.edge.config import EdgeConfig
from mesh.services import tcp_open
from tests.gateway.edge.conftest import Edge, start_edge
from tests.harness import Mesh, free_port, spawn_modelgw, stop_process


@dataclass
class MCPEdge:
    """Envoy with the MCP server behind it."""

    edge: Edge
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"{self.edge.url}/mcp"

    def token(self, user: str, *, superuser: bool = False) -> str:
        return self.edge.mesh.token(user, superuser=superuser)


@pytest.fixture(scope="session")
def mcp_edge(mesh: Mesh, builtin_worker: subprocess.Popen[bytes]) -> Iterator[MCPEdge]:
    envoy_port, mcp_port = free_port(), free_port()
    env = {
        **mesh.env,
        "MODELGW_ENVOY_PORT": str(envoy_port),
        "MODELGW_ENVOY_ADMIN_PORT": str(free_port()),
        "MODELGW_MCP_PORT": str(mcp_port),
        "MODELGW_MCP_TARGET": f"127.0.0.1:{envoy_port}",
    }
    process = spawn_modelgw(mesh, ["mcp"], "mcp", env)
    try:
        deadline = time.monotonic() + 30
        while not tcp_open("127.0.0.1", mcp_port):
            assert process.poll() is None, "modelgw mcp exited"
            assert time.monotonic() < deadline, "modelgw mcp not listening after 30 s"
            time.sleep(0.1)
        with start_edge(mesh, EdgeConfig.from_env(env), env) as edge:
            yield MCPEdge(edge=edge, process=process, env=env)
    finally:
        stop_process(process)
