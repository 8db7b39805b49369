"""The client against the session's real mesh, through a real Envoy (one target)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

import modelgw
from tests.gateway.edge.conftest import Edge, edge  # noqa: F401  (Envoy in front of the mesh)
from tests.harness import Mesh


@pytest.fixture(scope="session")
def gateway(edge: Edge, builtin_worker: subprocess.Popen[bytes]) -> Edge:  # noqa: F811
    """Envoy in front of the mesh, with the built-in models registered and served."""
    return edge


@pytest.fixture
def alice(gateway: Edge) -> Iterator[modelgw.Client]:
    """A client for alice, through Envoy."""
    with modelgw.Client(gateway.address, gateway.mesh.token("alice"), timeout_s=20) as client:
        yield client


def token(mesh: Mesh, user: str, *, superuser: bool = False) -> str:
    """A token of the session's signing key."""
    return mesh.token(user, superuser=superuser)
