"""Native gRPC on Envoy's port: stubs and grpcurl (with the rendered protoset)
reach the right server by service name; an upstream that is down is JSON 503."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from gateway.edge.config import EdgeConfig
from modelgateway.v1 import execution_pb2, execution_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.harness import Fixture, Mesh, free_port

from .conftest import Edge, start_edge

GRPCURL = shutil.which("grpcurl") or str(Path(sys.executable).parent / "grpcurl")


@pytest.fixture
def channel(edge: Edge) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(edge.address) as channel:
        yield channel


def test_a_grpc_stub_on_envoys_port_reaches_the_registry(
    edge: Edge, channel: grpc.Channel, model: Fixture
) -> None:
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    metadata = tuple(edge.bearer(model.reader).items())
    reply = stub.GetModel(registry_pb2.GetModelRequest(name=model.name), metadata=metadata)
    assert reply.model.resolved_version == "2.0.0"
    with pytest.raises(grpc.RpcError) as denied:
        stub.GetModel(registry_pb2.GetModelRequest(name=model.name))
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing credentials" in (denied.value.details() or "")


def test_grpc_to_the_execution_service_is_routed_to_its_server(
    edge: Edge, channel: grpc.Channel
) -> None:
    stub = execution_pb2_grpc.ExecutionServiceStub(channel)
    metadata = tuple(edge.bearer("root", superuser=True).items())
    with pytest.raises(grpc.RpcError) as error:
        stub.GetJob(execution_pb2.GetJobRequest(id="not-a-uuid"), metadata=metadata)
    # Whatever the execution server answers, it is its answer, not Envoy's.
    assert error.value.code() != grpc.StatusCode.UNAVAILABLE


def _grpcurl(edge: Edge, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRPCURL, "-plaintext", "-protoset", str(edge.descriptor_set), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_grpcurl_with_the_protoset_through_envoy(edge: Edge, model: Fixture) -> None:
    listed = _grpcurl(edge, edge.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert "modelgateway.v1.RegistryService" in listed.stdout.split()
    described = _grpcurl(edge, "describe", "modelgateway.v1.RegistryService")
    assert described.returncode == 0, described.stderr
    assert "rpc SetDefaultVersion" in described.stdout
    auth = f"authorization: Bearer {edge.mesh.token(model.owner)}"
    got = _grpcurl(
        edge, "-H", auth, "-d", json.dumps({"name": model.name}),
        edge.address, "modelgateway.v1.RegistryService/GetModel",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["model"]["name"] == model.name


def test_an_upstream_that_is_down_is_json_503(mesh: Mesh) -> None:
    env = {
        **mesh.env,
        "MODELGW_HOME": str(Path(mesh.env["MODELGW_HOME"]) / "down"),
        "MODELGW_REGISTRY_PORT": str(free_port()),  # nothing listens there
        "MODELGW_ENVOY_PORT": str(free_port()),
        "MODELGW_ENVOY_ADMIN_PORT": str(free_port()),
    }
    with start_edge(mesh, EdgeConfig.from_env(env), env) as down:
        status, body = down.call("GET", "/v1/models/x", headers=down.bearer("root"))
        assert status == 503, body
        assert body["code"] == 14
        with grpc.insecure_channel(down.address) as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            with pytest.raises(grpc.RpcError) as error:
                stub.GetModel(registry_pb2.GetModelRequest(name="x"), timeout=5)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert os.path.isdir(env["MODELGW_HOME"])
