"""Production authentication: tokens from an identity provider, verified by its JWKS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mesh import free_port
from modelgateway.v1 import registry_pb2 as R

from .conftest import Mesh, start_server, wait_serving

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "idp-key-1"


class _Jwks(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def idp_token(**claims: object) -> str:
    now = int(time.time())
    payload = {
        "sub": "ida",
        "iss": "https://idp.example",
        "aud": "modelgw",
        "iat": now,
        "exp": now + 300,
    }
    payload.update(claims)
    return jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": KID})


def test_tokens_verified_against_jwks(postgres_dsn: str, jwks_url: str, tmp_path: Path) -> None:
    port = free_port()
    mesh = Mesh(
        env={
            **__import__("os").environ,
            "MODELGW_HOME": str(tmp_path),
            "MODELGW_DATABASE_URL": postgres_dsn,
            "MODELGW_REGISTRY_PORT": str(port),
            "MODELGW_JWT_JWKS_URL": jwks_url,
            "MODELGW_JWT_ISSUER": "https://idp.example",
        },
        addresses={"registry": f"127.0.0.1:{port}"},
        logs={"registry": tmp_path / "registry.log"},
    )
    start_server(mesh, "registry")
    try:
        wait_serving(mesh, "registry")
        stub = mesh.registry()
        ok = stub.ListModels(
            R.ListModelsRequest(), metadata=(("authorization", f"Bearer {idp_token()}"),)
        )
        assert ok is not None
        with pytest.raises(grpc.RpcError) as failure:
            stub.ListModels(
                R.ListModelsRequest(),
                metadata=(("authorization", f"Bearer {idp_token(iss='https://evil.example')}"),),
            )
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "issuer is wrong" in failure.value.details()
        # A token from the local signing key is not accepted in JWKS mode.
        with pytest.raises(grpc.RpcError) as failure:
            stub.ListModels(R.ListModelsRequest(), metadata=mesh.metadata("ida"))
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        for channel in mesh.channels.values():
            channel.close()
        mesh.processes["registry"].terminate()
        mesh.processes["registry"].wait(timeout=20)
