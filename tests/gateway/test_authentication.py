"""Each way a bearer token can be wrong gets UNAUTHENTICATED saying which."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelgateway.v1 import registry_pb2 as R

from .conftest import Mesh


def claims(mesh: Mesh, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "alice",
        "iss": mesh.config.auth.issuer,
        "aud": mesh.config.auth.audience,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def local_key(mesh: Mesh) -> Ed25519PrivateKey:
    from gateway.authn import load_or_create_signing_key

    return load_or_create_signing_key(mesh.config.auth.signing_key_path)


def signed(mesh: Mesh, **overrides: object) -> str:
    return jwt.encode(claims(mesh, **overrides), local_key(mesh), algorithm="EdDSA")


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "missing credentials"),
        ("Basic dXNlcjpwdw==", "expected 'Bearer <token>'"),
        ("Bearer", "expected 'Bearer <token>'"),
        ("Bearer not-a-jwt", "malformed"),
        ("EXPIRED", "expired"),
        ("FOREIGN", "signature is invalid"),
        ("WRONG_AUD", "audience is wrong"),
        ("NO_SUB", "'sub'"),
        ("STAR_SUB", "subject is unusable"),
    ],
)
def test_bad_tokens_are_unauthenticated(mesh: Mesh, header: str | None, words: str) -> None:
    tokens = {
        "EXPIRED": lambda: signed(mesh, exp=int(time.time()) - 10),
        "FOREIGN": lambda: jwt.encode(
            claims(mesh), Ed25519PrivateKey.generate(), algorithm="EdDSA"
        ),
        "WRONG_AUD": lambda: signed(mesh, aud="someone-else"),
        "NO_SUB": lambda: signed(mesh, sub=None),
        "STAR_SUB": lambda: signed(mesh, sub="*"),
    }
    if header in tokens:
        header = f"Bearer {tokens[header]()}"
    metadata = () if header is None else (("authorization", header),)
    with pytest.raises(grpc.RpcError) as failure:
        mesh.registry().ListModels(R.ListModelsRequest(), metadata=metadata)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert words in failure.value.details()


def test_health_and_reflection_need_no_token(mesh: Mesh) -> None:
    for service in ("registry", "execution", "admin"):
        reply = health_pb2_grpc.HealthStub(mesh.channel(service)).Check(
            health_pb2.HealthCheckRequest()
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_valid_token_and_request_id(mesh: Mesh) -> None:
    metadata = (("authorization", f"Bearer {signed(mesh)}"), ("x-request-id", "req-123"))
    _, call = mesh.registry().ListModels.with_call(R.ListModelsRequest(), metadata=metadata)
    assert ("x-request-id", "req-123") in tuple(call.trailing_metadata())
