"""A real Envoy (`python -m gateway.edge`, as `modelgw up` runs it) in front of the
session's gateway servers."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.edge.config import EdgeConfig
from tests.gateway.conftest import model  # noqa: F401  (a model with an owner and a reader)
from tests.harness import (  # the session `mesh` fixture lives in tests/conftest.py
    Mesh,
    free_port,
    stop_process,
)


@dataclass
class Edge:
    """The running Envoy and what a test needs to call it."""

    mesh: Mesh
    config: EdgeConfig
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.config.port}"

    @property
    def descriptor_set(self) -> Path:
        return self.config.out_dir / "api.pb"

    def bearer(self, user: str, *, superuser: bool = False) -> dict[str, str]:
        return {"authorization": f"Bearer {self.mesh.token(user, superuser=superuser)}"}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        """One REST call: (HTTP status, parsed JSON body)."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers or {}
        )
        if data is not None:
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")


def _wait_ready(edge: Edge, timeout_s: float = 30.0) -> None:
    """Until Envoy's admin /ready says LIVE: the listener is up and every cluster has
    passed its first health check."""
    deadline = time.monotonic() + timeout_s
    admin = f"http://127.0.0.1:{edge.config.admin_port}/ready"
    while time.monotonic() < deadline:
        if edge.process.poll() is not None:
            raise RuntimeError(
                f"envoy exited {edge.process.returncode}:\n{edge.log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(admin, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"envoy not ready after {timeout_s}s:\n{edge.log.read_text()[-3000:]}")


@contextlib.contextmanager
def start_edge(mesh: Mesh, config: EdgeConfig, env: dict[str, str]) -> Iterator[Edge]:
    """Envoy run as `modelgw up` runs it, until the block ends."""
    config.home.mkdir(parents=True, exist_ok=True)
    log = config.home / "envoy.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.edge"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    edge = Edge(mesh=mesh, config=config, process=process, log=log)
    try:
        _wait_ready(edge)
        yield edge
    finally:
        stop_process(process, timeout_s=10)


@pytest.fixture(scope="session")
def edge(mesh: Mesh) -> Iterator[Edge]:
    env = {
        **mesh.env,
        "MODELGW_ENVOY_PORT": str(free_port()),
        "MODELGW_ENVOY_ADMIN_PORT": str(free_port()),
    }
    with start_edge(mesh, EdgeConfig.from_env(env), env) as edge:
        yield edge
