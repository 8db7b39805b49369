"""CreateModelVersion runs the operator's allow-list on python and subprocess backends,
for owners and superusers alike; http backends stay open to owners.

The session's servers run with MODELGW_ALLOWED_CALLABLES=workers.builtin,tests.gateway.execution
and MODELGW_ALLOWED_COMMANDS=<the test interpreter> (tests/conftest.py)."""

from __future__ import annotations

import sys
from typing import Any

import grpc
import pytest

from modelgateway.v1 import model_pb2
from modelgateway.v1 import registry_pb2 as R

from .conftest import Fixture, Mesh

DENIED, INVALID = grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT
STEAL_KEY = ["/bin/sh", "-c", "cat $MODELGW_HOME/keys/jwt-signing-key.pem"]


def version(kind: str, config: dict[str, Any], number: str = "7.0.0") -> model_pb2.ModelVersion:
    message = model_pb2.ModelVersion(version=number)
    message.backend.kind = kind
    message.backend.config.update(config)
    return message


def create(mesh: Mesh, model: str, user: str, message: model_pb2.ModelVersion) -> Any:
    return mesh.registry().CreateModelVersion(
        R.CreateModelVersionRequest(model=model, version=message),
        metadata=mesh.metadata(user, superuser=user == "root"),
    )


def refused(mesh: Mesh, model: Fixture, user: str, message: model_pb2.ModelVersion) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        create(mesh, model.name, user, message)
    versions = mesh.registry().GetModel(
        R.GetModelRequest(name=model.name), metadata=mesh.metadata("root", superuser=True)
    ).model.versions
    assert list(versions) == ["1.0.0", "2.0.0"], "a refused version was written"
    return failure.value


@pytest.mark.parametrize("who", ["owner", "root"])
def test_a_command_outside_the_allow_list_is_refused(mesh: Mesh, model: Fixture, who: str) -> None:
    user = model.owner if who == "owner" else "root"
    error = refused(mesh, model, user, version("subprocess", {"command": STEAL_KEY}))
    assert error.code() == DENIED, error.details()
    assert "'/bin/sh'" in error.details()
    assert "MODELGW_ALLOWED_COMMANDS" in error.details()


@pytest.mark.parametrize("who", ["owner", "root"])
@pytest.mark.parametrize("path", ["os:system", "workers.builtinx:f", "subprocess:run"])
def test_a_callable_outside_the_allow_list_is_refused(
    mesh: Mesh, model: Fixture, who: str, path: str
) -> None:
    user = model.owner if who == "owner" else "root"
    error = refused(mesh, model, user, version("python", {"callable": path}))
    assert error.code() == DENIED, error.details()
    assert "MODELGW_ALLOWED_CALLABLES" in error.details()


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"callable": "workers.builtin.chemistry:os.system"}, ["one public name"]),
        ({"callable": "workers.builtin.chemistry:_private"}, ["one public name"]),
        ({"command": ["sh", "-c", "id"]}, ["absolute path"]),
        ({"command": [f"{sys.executable}/../../../bin/sh"]}, ["'.' or '..'"]),
        ({"command": [sys.executable], "env": {"LD_PRELOAD": "/tmp/x.so"}}, ["LD_PRELOAD"]),
        ({"command": [sys.executable], "env": {"PYTHONPATH": "/tmp"}}, ["PYTHONPATH"]),
        ({"command": [sys.executable], "env": {"MODELGW_HOME": "/"}}, ["MODELGW_HOME"]),
        ({"command": [sys.executable], "env": {"PATH": "/tmp"}}, ["PATH"]),
        ({"command": [sys.executable], "cwd": "/"}, ["cwd", "fresh private working directory"]),
        ({"command": [sys.executable], "limits": {"memory_mb": 0}}, ["memory_mb"]),
    ],
)
def test_bypasses_of_the_allow_list_are_invalid_arguments(
    mesh: Mesh, model: Fixture, config: dict[str, Any], words: list[str]
) -> None:
    kind = "python" if "callable" in config else "subprocess"
    error = refused(mesh, model, model.owner, version(kind, config))
    assert error.code() == INVALID, error.details()
    for word in words:
        assert word in error.details()


def test_owners_may_register_http_and_allowed_backends(mesh: Mesh, model: Fixture) -> None:
    http = {"url": "http://models.example:8000", "model_name": "logp"}
    assert create(mesh, model.name, model.owner, version("http", http, "7.0.0")).version
    echo = {"callable": "workers.builtin.demo:echo"}
    assert create(mesh, model.name, model.owner, version("python", echo, "7.0.1")).version
    allowed = {"command": [sys.executable, "-c", "pass"], "limits": {"memory_mb": 256}}
    assert create(mesh, model.name, model.owner, version("subprocess", allowed, "7.0.2")).version
