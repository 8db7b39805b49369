"""Admins' grpcurl against the running servers, by reflection alone (no .proto files)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import Mesh, unique_name

GRPCURL = shutil.which("grpcurl") or str(Path(sys.executable).parent / "grpcurl")


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRPCURL, "-plaintext", *args], capture_output=True, text=True, timeout=30
    )


def test_reflection_lists_each_service(mesh: Mesh) -> None:
    expected = {
        "registry": "modelgateway.v1.RegistryService",
        "execution": "modelgateway.v1.ExecutionService",
        "admin": "modelgateway.v1.AdminService",
    }
    for service, full_name in expected.items():
        listed = grpcurl(mesh.addresses[service], "list")
        assert listed.returncode == 0, listed.stderr
        assert full_name in listed.stdout.split()
        assert "grpc.health.v1.Health" in listed.stdout.split()


def test_describe_shows_the_doc_comments(mesh: Mesh) -> None:
    described = grpcurl(mesh.addresses["registry"], "describe", "modelgateway.v1.RegistryService")
    assert described.returncode == 0, described.stderr
    assert "rpc SetDefaultVersion" in described.stdout


def test_create_and_get_a_model_with_grpcurl(mesh: Mesh) -> None:
    name = unique_name("curl")
    auth = f"authorization: Bearer {mesh.token('root', superuser=True)}"
    created = grpcurl(
        "-H",
        auth,
        "-d",
        json.dumps({"model": {"name": name, "description": "via grpcurl"}}),
        mesh.addresses["registry"],
        "modelgateway.v1.RegistryService/CreateModel",
    )
    assert created.returncode == 0, created.stderr
    got = grpcurl(
        "-H",
        auth,
        "-d",
        json.dumps({"name": name}),
        mesh.addresses["registry"],
        "modelgateway.v1.RegistryService/GetModel",
    )
    assert got.returncode == 0, got.stderr
    body = json.loads(got.stdout)
    assert body["model"]["name"] == name
    assert body["model"]["visibility"] == "VISIBILITY_PRIVATE"
    denied = grpcurl(
        "-d",
        json.dumps({"name": name}),
        mesh.addresses["registry"],
        "modelgateway.v1.RegistryService/GetModel",
    )
    assert denied.returncode != 0
    assert "Unauthenticated" in denied.stderr
