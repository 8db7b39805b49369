"""Each way a bearer token can be wrong gets UNAUTHENTICATED saying which."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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
        ("YEAR_9999", "at most 86400 s"),
        ("TWO_DAYS", "at most 86400 s"),
        ("NO_IAT", "'iat'"),
        ("FUTURE_IAT", "not yet valid"),
        ("RS256", "expected EdDSA"),
        ("ES256", "expected EdDSA"),
        ("HS256", "expected EdDSA"),
        ("NONE_ALG", "expected EdDSA"),
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
        "YEAR_9999": lambda: signed(mesh, exp=253402300799),
        "TWO_DAYS": lambda: signed(mesh, exp=int(time.time()) + 2 * 86400),
        "NO_IAT": lambda: signed(mesh, iat=None),
        "FUTURE_IAT": lambda: signed(mesh, iat=int(time.time()) + 3600),
        "RS256": lambda: jwt.encode(claims(mesh), rsa.generate_private_key(65537, 2048), "RS256"),
        "ES256": lambda: jwt.encode(claims(mesh), ec.generate_private_key(ec.SECP256R1()), "ES256"),
        "HS256": lambda: jwt.encode(claims(mesh), "a shared secret of 32 bytes......", "HS256"),
        "NONE_ALG": lambda: jwt.encode(claims(mesh), None, "none"),
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


def test_a_request_id_is_made_for_a_failed_call_and_sent_only_with_it(mesh: Mesh) -> None:
    token = (("authorization", f"Bearer {signed(mesh)}"),)
    _, ok = mesh.registry().ListModels.with_call(R.ListModelsRequest(), metadata=token)
    assert "x-request-id" not in dict(ok.trailing_metadata() or ())
    ids = set()
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as failure:
            mesh.registry().GetModel(R.GetModelRequest(name="no.such-model"), metadata=token)
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        rid = dict(failure.value.trailing_metadata() or ()).get("x-request-id")
        assert rid and len(rid) == 32, failure.value.trailing_metadata()
        ids.add(rid)
    assert len(ids) == 2  # one per call
    given = (*token, ("x-request-id", "req-456"))
    with pytest.raises(grpc.RpcError) as failure:
        mesh.registry().GetModel(R.GetModelRequest(name="no.such-model"), metadata=given)
    assert ("x-request-id", "req-456") in tuple(failure.value.trailing_metadata())


def test_token_create_refuses_a_lifetime_past_the_maximum(mesh: Mesh) -> None:
    from gateway.authn import LifetimeError, create_token

    with pytest.raises(LifetimeError, match="MODELGW_JWT_MAX_TTL"):
        create_token(mesh.config.auth, "alice", superuser=False, ttl_s=86401)
    token = create_token(mesh.config.auth, "alice", superuser=False, ttl_s=86400)
    mesh.registry().ListModels(R.ListModelsRequest(), metadata=(("authorization", f"Bearer {token}"),))


def test_token_create_cli_takes_a_ttl(mesh: Mesh) -> None:
    import subprocess
    import sys

    def run(*ttl: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "cli", "token", "create", "--user", "alice", *ttl]
        return subprocess.run(argv, env=mesh.env, capture_output=True, text=True, check=False)

    short = run("--ttl", "60")
    assert short.returncode == 0, short.stderr
    claims = jwt.decode(short.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    too_long = run("--ttl", str(10 * 86400))
    assert too_long.returncode == 2
    assert "MODELGW_JWT_MAX_TTL" in too_long.stderr


def test_the_signing_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from gateway.authn import load_or_create_signing_key

    fresh = tmp_path / "keys" / "key.pem"
    load_or_create_signing_key(fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    fresh.chmod(0o644)  # as an older version or a careless copy left it
    load_or_create_signing_key(fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
