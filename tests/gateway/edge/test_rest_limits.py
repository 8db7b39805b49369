"""Over a submission limit through Envoy: HTTP 429, Retry-After, and the JSON error."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.edge.config import EdgeConfig
from mesh import free_port
from tests.gateway.execution.conftest import register_backend
from tests.harness import Mesh, own_servers, unique_name

from .conftest import Edge, start_edge


@pytest.fixture(scope="module")
def limited_edge(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    home: Path = tmp_path_factory.mktemp("limited-edge")
    limits = {"MODELGW_USER_JOBS_PER_SECOND": "2", "MODELGW_USER_JOBS_BURST": "5"}
    with own_servers(mesh, home, ("execution",), **limits) as own:
        env = {
            **own.env,
            "MODELGW_HOME": str(home),
            "MODELGW_ENVOY_PORT": str(free_port()),
            "MODELGW_ENVOY_ADMIN_PORT": str(free_port()),
        }
        with start_edge(own, EdgeConfig.from_env(env), env) as edge:
            yield edge


def test_a_flood_over_rest_gets_429_with_retry_after(mesh: Mesh, limited_edge: Edge) -> None:
    model, user = unique_name("rest-adm"), unique_name("flood")
    register_backend(mesh, model, "python", {"callable": "workers.builtin.demo:echo"})
    body = json.dumps({"model": model, "records": [{"n": 1}]}).encode()
    statuses, refusal = [], None
    for _ in range(12):
        request = urllib.request.Request(
            limited_edge.url + "/v1/jobs", data=body, method="POST",
            headers={**limited_edge.bearer(user), "content-type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                statuses.append(reply.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
            refusal = refusal or (error.headers, json.loads(error.read()))
    assert statuses.count(200) >= 5 and 429 in statuses, statuses
    assert refusal is not None
    headers, payload = refusal
    assert headers["retry-after"] == "1"
    assert payload["code"] == 8 and "2 jobs a second" in payload["message"]
