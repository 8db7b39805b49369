"""Fixtures of the gateway tests; the servers themselves come from tests/conftest.py."""

from __future__ import annotations

import pytest

from modelgateway.v1 import model_pb2, registry_pb2
from tests.harness import (  # noqa: F401  # re-exported: the test modules import these from here
    Fixture,
    Mesh,
    any_object_version,
    free_port,
    start_server,
    unique_name,
    wait_serving,
)


@pytest.fixture
def model(mesh: Mesh) -> Fixture:
    return create_model(mesh)


def create_model(mesh: Mesh) -> Fixture:
    """A private model with versions 1.0.0 and 2.0.0, an owner and a reader."""
    su = mesh.metadata("root", superuser=True)
    stub = mesh.registry()
    name = unique_name()
    stub.CreateModel(
        registry_pb2.CreateModelRequest(
            model=model_pb2.Model(name=name, description="test", tags=[name])
        ),
        metadata=su,
    )
    for v in ("1.0.0", "2.0.0"):
        stub.CreateModelVersion(
            registry_pb2.CreateModelVersionRequest(model=name, version=any_object_version(v)),
            metadata=su,
        )
    owner, reader = f"owner-{name}", f"reader-{name}"
    stub.GrantAccess(
        registry_pb2.GrantAccessRequest(name=name, user=owner, role=model_pb2.ACCESS_ROLE_OWNER),
        metadata=su,
    )
    stub.GrantAccess(
        registry_pb2.GrantAccessRequest(name=name, user=reader, role=model_pb2.ACCESS_ROLE_READER),
        metadata=su,
    )
    return Fixture(name=name, owner=owner, reader=reader)
