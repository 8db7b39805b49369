"""The registry through real gRPC calls: grants, revocation, visibility, deletion."""

from __future__ import annotations

from modelgateway.v1 import model_pb2
from modelgateway.v1 import registry_pb2 as R
from tests.gateway.conftest import Fixture, Mesh
from tests.gateway.registry._calls import INVALID, NOT_FOUND, expect, su


def test_access_grants_and_revocation(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    owner = mesh.metadata(model.owner)
    listed = stub.ListAccess(R.ListAccessRequest(name=model.name), metadata=owner)
    assert [(g.user, g.role) for g in listed.grants] == [
        (model.owner, model_pb2.ACCESS_ROLE_OWNER),
        (model.reader, model_pb2.ACCESS_ROLE_READER),
    ]
    stub.RevokeAccess(
        R.RevokeAccessRequest(
            name=model.name, user=model.reader, role=model_pb2.ACCESS_ROLE_READER
        ),
        metadata=owner,
    )
    expect(
        NOT_FOUND,
        lambda: stub.GetModel(
            R.GetModelRequest(name=model.name), metadata=mesh.metadata(model.reader)
        ),
    )
    expect(
        NOT_FOUND,
        lambda: stub.RevokeAccess(
            R.RevokeAccessRequest(
                name=model.name, user=model.reader, role=model_pb2.ACCESS_ROLE_READER
            ),
            metadata=owner,
        ),
        "is not a reader",
    )
    expect(
        INVALID,
        lambda: stub.GrantAccess(R.GrantAccessRequest(name=model.name, user="x"), metadata=owner),
        "role is required",
    )
    expect(
        INVALID,
        lambda: stub.GrantAccess(
            R.GrantAccessRequest(name=model.name, user="*", role=model_pb2.ACCESS_ROLE_READER),
            metadata=owner,
        ),
        "user",
    )


def test_public_then_private(mesh: Mesh, model: Fixture) -> None:
    stub, stranger = mesh.registry(), mesh.metadata("anyone")
    expect(NOT_FOUND, lambda: stub.GetModel(R.GetModelRequest(name=model.name), metadata=stranger))
    public = stub.SetVisibility(
        R.SetVisibilityRequest(name=model.name, visibility=model_pb2.VISIBILITY_PUBLIC),
        metadata=mesh.metadata(model.owner),
    ).model
    assert public.visibility == model_pb2.VISIBILITY_PUBLIC
    assert (
        stub.GetModel(R.GetModelRequest(name=model.name), metadata=stranger).model.name
        == model.name
    )
    stub.SetVisibility(
        R.SetVisibilityRequest(name=model.name, visibility=model_pb2.VISIBILITY_PRIVATE),
        metadata=su(mesh),
    )
    expect(NOT_FOUND, lambda: stub.GetModel(R.GetModelRequest(name=model.name), metadata=stranger))
    expect(
        INVALID,
        lambda: stub.SetVisibility(R.SetVisibilityRequest(name=model.name), metadata=su(mesh)),
        "visibility is required",
    )


def test_delete_removes_model_versions_and_grants(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    stub.DeleteModel(R.DeleteModelRequest(name=model.name), metadata=mesh.metadata(model.owner))
    expect(NOT_FOUND, lambda: stub.GetModel(R.GetModelRequest(name=model.name), metadata=su(mesh)))
    stub.CreateModel(
        R.CreateModelRequest(model=model_pb2.Model(name=model.name)), metadata=su(mesh)
    )
    recreated = stub.GetModel(R.GetModelRequest(name=model.name), metadata=su(mesh)).model
    assert (list(recreated.versions), list(recreated.owners), list(recreated.readers)) == (
        [],
        [],
        [],
    )
    expect(
        NOT_FOUND,
        lambda: stub.GetModel(
            R.GetModelRequest(name=model.name), metadata=mesh.metadata(model.owner)
        ),
    )
