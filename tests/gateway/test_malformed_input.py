"""Hostile input gets a precise status, never INTERNAL, UNKNOWN or an oversized reply."""

from __future__ import annotations

import base64
import json

import grpc
import pytest

from modelgateway.v1 import execution_pb2, execution_pb2_grpc, model_pb2
from modelgateway.v1 import registry_pb2 as R

from .conftest import Mesh, unique_name

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOSTILE_TOKENS = {
    "nested": _token('{"k": "jobs", "c": ' + "[" * 50_000 + "]" * 50_000 + "}"),
    "nan": _token('{"k": "jobs", "c": NaN}'),
    "infinity": _token('{"k": "jobs", "c": -Infinity}'),
    "models-nan": _token('{"k": "models", "c": NaN}'),
    "huge": "A" * 100_000,
}


def _list_calls(mesh: Mesh, token: str) -> list[tuple[str, object]]:
    su = mesh.metadata("root", superuser=True)
    jobs = execution_pb2_grpc.ExecutionServiceStub(mesh.channel("execution"))
    registry = mesh.registry()
    return [
        ("ListJobs", lambda: jobs.ListJobs(execution_pb2.ListJobsRequest(page_token=token), metadata=su)),
        ("ListModels", lambda: registry.ListModels(R.ListModelsRequest(page_token=token), metadata=su)),
        ("SearchModels", lambda: registry.SearchModels(R.SearchModelsRequest(page_token=token), metadata=su)),
        ("ListModelVersions", lambda: registry.ListModelVersions(
            R.ListModelVersionsRequest(model="rdkit.logp", page_token=token), metadata=su)),
        ("ListModelHistory", lambda: registry.ListModelHistory(
            R.ListModelHistoryRequest(name="rdkit.logp", page_token=token), metadata=su)),
    ]


@pytest.mark.parametrize("kind", HOSTILE_TOKENS)
def test_a_malformed_page_token_is_invalid_argument(mesh: Mesh, kind: str) -> None:
    for rpc, call in _list_calls(mesh, HOSTILE_TOKENS[kind]):
        with pytest.raises(grpc.RpcError) as failure:
            call()  # type: ignore[operator]
        assert failure.value.code() in (INVALID, grpc.StatusCode.NOT_FOUND), (rpc, failure.value.details())
        if failure.value.code() == INVALID:
            assert "malformed page_token" in failure.value.details(), rpc


@pytest.mark.parametrize("rpc", ["VerifyConsensusModel", "ImportConsensusModel"])
@pytest.mark.parametrize("shape", ["flow", "mapping"])
def test_consensus_yaml_nested_too_deep_is_invalid_argument(mesh: Mesh, rpc: str, shape: str) -> None:
    depth = 30_000
    body = "[" * depth + "]" * depth if shape == "flow" else "{a: " * depth + "1" + "}" * depth
    text = f'"deep":\n  CHILDMODELS: {body}\n  FORMULA: "A"\n'
    stub, su = mesh.registry(), mesh.metadata("root", superuser=True)
    request = (
        R.VerifyConsensusModelRequest(name="deep", yaml=text)
        if rpc == "VerifyConsensusModel"
        else R.ImportConsensusModelRequest(yaml=text)
    )
    with pytest.raises(grpc.RpcError) as failure:
        getattr(stub, rpc)(request, metadata=su)
    assert failure.value.code() == INVALID, failure.value.details()
    assert "nests deeper than" in failure.value.details()


def test_a_huge_name_is_echoed_only_in_part(mesh: Mesh) -> None:
    name = "m" * 1_000_000
    su = mesh.metadata("root", superuser=True)
    calls = [
        lambda: mesh.registry().GetModel(R.GetModelRequest(name=name), metadata=su),
        lambda: execution_pb2_grpc.ExecutionServiceStub(mesh.channel("execution")).SubmitJob(
            execution_pb2.SubmitJobRequest(model=name), metadata=su),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as failure:
            call()
        assert failure.value.code() in (INVALID, grpc.StatusCode.NOT_FOUND), failure.value.details()
        assert len(failure.value.details()) < 2_000


def test_a_good_page_token_still_pages(mesh: Mesh) -> None:
    su = mesh.metadata("root", superuser=True)
    tag = unique_name("paging")
    for _ in range(2):
        mesh.registry().CreateModel(
            R.CreateModelRequest(model=model_pb2.Model(name=unique_name(), tags=[tag])), metadata=su
        )
    first = mesh.registry().ListModels(R.ListModelsRequest(tag=tag, page_size=1), metadata=su)
    token = first.next_page_token
    assert json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["k"] == "models"
    second = mesh.registry().ListModels(R.ListModelsRequest(tag=tag, page_size=1, page_token=token), metadata=su)
    assert len(second.models) == 1 and second.models[0].name != first.models[0].name


@pytest.mark.parametrize(
    "method",
    ["/modelgateway.v1.RegistryService/GetModel", "/modelgateway.v1.ExecutionService/GetJob"],
)
def test_bytes_that_are_no_message_are_invalid_argument(mesh: Mesh, method: str) -> None:
    service = "execution" if "Execution" in method else "registry"
    raw = mesh.channel(service).unary_unary(method)  # no serializers: bytes as they are
    for garbage in (b"\xff\xff\xff\xff", b"\x0a\xff\x01abc", _nested_struct_bytes(200)):
        with pytest.raises(grpc.RpcError) as failure:
            raw(garbage, metadata=mesh.metadata("alice"), timeout=10)
        assert failure.value.code() == INVALID, failure.value.details()
        assert "is not a valid" in failure.value.details()
    # Without a token the answer is still UNAUTHENTICATED: decoding does not come first.
    with pytest.raises(grpc.RpcError) as failure:
        raw(b"\xff\xff", timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _nested_struct_bytes(depth: int) -> bytes:
    """Field 1 holding a message nested `depth` deep (beyond protobuf's parse limit)."""
    body = b""
    for _ in range(depth):
        body = b"\x0a" + _varint(len(body)) + body
    return b"\x0a" + _varint(len(body)) + body


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out
