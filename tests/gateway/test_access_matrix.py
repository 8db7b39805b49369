"""Every role against every RegistryService RPC, as one table.

Roles: superuser; the model's owner; a granted reader; a stranger (signed in,
no grant) on a private model; the same stranger on a public model. Outcomes:
OK, NOT_FOUND (may not even read, so the model's existence is hidden) or
PERMISSION_DENIED (may read, may not do this).

Then strangers whose user names spell a role, the public group, or the
namespace separators of the Casbin lines (authz/grants.py): each must fare
exactly as any stranger does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from modelgateway.v1 import (
    execution_pb2,
    execution_pb2_grpc,
    model_pb2,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.harness import HOSTILE_NAMES, matrix_cases

from .conftest import Fixture, Mesh, any_object_version, create_model, unique_name

OK, NF, PD = "OK", grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
ROLES = ("superuser", "owner", "reader", "stranger", "public")

Stub = registry_pb2_grpc.RegistryServiceStub
Call = Callable[[Stub, Fixture, Any], Any]
R = registry_pb2
OWNER, READER = model_pb2.ACCESS_ROLE_OWNER, model_pb2.ACCESS_ROLE_READER

# rpc label -> (call, expected outcome per role in ROLES order)
MATRIX: dict[str, tuple[Call, tuple[Any, ...]]] = {
    "CreateModel": (
        lambda s, f, md: s.CreateModel(
            R.CreateModelRequest(model=model_pb2.Model(name=unique_name())), metadata=md
        ),
        (OK, PD, PD, PD, PD),
    ),
    "GetModel": (
        lambda s, f, md: s.GetModel(R.GetModelRequest(name=f.name), metadata=md),
        (OK, OK, OK, NF, OK),
    ),
    "UpdateModel": (
        lambda s, f, md: s.UpdateModel(
            R.UpdateModelRequest(
                model=model_pb2.Model(name=f.name, description="new"),
                update_mask=field_mask_pb2.FieldMask(paths=["description"]),
            ),
            metadata=md,
        ),
        (OK, OK, PD, NF, PD),
    ),
    "UpdateModel(limits)": (
        lambda s, f, md: s.UpdateModel(
            R.UpdateModelRequest(
                model=model_pb2.Model(name=f.name, limits=model_pb2.ModelLimits(max_queued_jobs=5)),
                update_mask=field_mask_pb2.FieldMask(paths=["limits.max_queued_jobs"]),
            ),
            metadata=md,
        ),
        (OK, OK, PD, NF, PD),
    ),
    "UpdateModel(limit_caps)": (
        lambda s, f, md: s.UpdateModel(
            R.UpdateModelRequest(
                model=model_pb2.Model(name=f.name, limit_caps=model_pb2.ModelLimits(max_queued_jobs=5)),
                update_mask=field_mask_pb2.FieldMask(paths=["limit_caps.max_queued_jobs"]),
            ),
            metadata=md,
        ),
        (OK, PD, PD, NF, PD),  # owners may set limits, never the caps on them
    ),
    "DeleteModel": (
        lambda s, f, md: s.DeleteModel(R.DeleteModelRequest(name=f.name), metadata=md),
        (OK, OK, PD, NF, PD),
    ),
    "CreateModelVersion": (
        lambda s, f, md: s.CreateModelVersion(
            R.CreateModelVersionRequest(model=f.name, version=any_object_version("3.0.0")),
            metadata=md,
        ),
        (OK, OK, PD, NF, PD),
    ),
    "GetModelVersion": (
        lambda s, f, md: s.GetModelVersion(
            R.GetModelVersionRequest(model=f.name, version="1.0.0"), metadata=md
        ),
        (OK, OK, OK, NF, OK),
    ),
    "ListModelVersions": (
        lambda s, f, md: s.ListModelVersions(R.ListModelVersionsRequest(model=f.name), metadata=md),
        (OK, OK, OK, NF, OK),
    ),
    "SetDefaultVersion": (
        lambda s, f, md: s.SetDefaultVersion(
            R.SetDefaultVersionRequest(name=f.name, version="1.0.0"), metadata=md
        ),
        (OK, OK, PD, NF, PD),
    ),
    "SetVisibility": (
        lambda s, f, md: s.SetVisibility(
            R.SetVisibilityRequest(name=f.name, visibility=model_pb2.VISIBILITY_PUBLIC), metadata=md
        ),
        (OK, OK, PD, NF, PD),
    ),
    "GrantAccess(reader)": (
        lambda s, f, md: s.GrantAccess(
            R.GrantAccessRequest(name=f.name, user="newbie", role=READER), metadata=md
        ),
        (OK, OK, PD, NF, PD),
    ),
    "GrantAccess(owner)": (
        lambda s, f, md: s.GrantAccess(
            R.GrantAccessRequest(name=f.name, user="newbie", role=OWNER), metadata=md
        ),
        (OK, PD, PD, NF, PD),
    ),
    "RevokeAccess(reader)": (
        lambda s, f, md: s.RevokeAccess(
            R.RevokeAccessRequest(name=f.name, user=f.reader, role=READER), metadata=md
        ),
        (OK, OK, PD, NF, PD),
    ),
    "RevokeAccess(owner)": (
        lambda s, f, md: s.RevokeAccess(
            R.RevokeAccessRequest(name=f.name, user=f.owner, role=OWNER), metadata=md
        ),
        (OK, PD, PD, NF, PD),
    ),
    "VerifyConsensusModel": (
        lambda s, f, md: s.VerifyConsensusModel(
            R.VerifyConsensusModelRequest(name=unique_name(), yaml=_algorithm_1(f.name)), metadata=md
        ),
        (OK, OK, OK, OK, OK),  # a report for anyone; children are judged as the caller sees them
    ),
    "ImportConsensusModel": (
        lambda s, f, md: s.ImportConsensusModel(
            R.ImportConsensusModelRequest(yaml=_algorithm_1(f.name, unique_name())), metadata=md
        ),
        (OK, PD, PD, PD, PD),
    ),
    "ListAccess": (
        lambda s, f, md: s.ListAccess(R.ListAccessRequest(name=f.name), metadata=md),
        (OK, OK, PD, NF, PD),
    ),
    "ListModelHistory": (
        lambda s, f, md: s.ListModelHistory(R.ListModelHistoryRequest(name=f.name), metadata=md),
        (OK, OK, PD, NF, PD),  # as ListAccess: who changed what is about the model's access too
    ),
}

def _algorithm_1(child: str, name: str = "consensus-under-test") -> str:
    return (
        f'"{name}":\n  CHILDMODELS:\n    A: {{NAME: "{child}"}}\n    B: {{NAME: "{child}"}}\n'
        '  FORMULA: "A + B"\n'
    )


CASES = matrix_cases(MATRIX, ROLES)
# The calls that change the model they are given when they succeed: those get a fresh
# model each. Every other case (every refusal, every read) shares the module's models.
CHANGES_THE_MODEL = {
    "UpdateModel", "DeleteModel", "CreateModelVersion", "SetDefaultVersion", "SetVisibility",
    "GrantAccess(reader)", "GrantAccess(owner)", "RevokeAccess(reader)", "RevokeAccess(owner)",
}  # fmt: skip


@pytest.fixture(scope="module")
def shared_models(mesh: Mesh) -> dict[str, Fixture]:
    """A private model, and a public one for the public role, as the `model` fixture
    makes them. Cases that change nothing share them: a refused call that changed
    one anyway would show in the cases after it."""
    private, public = create_model(mesh), create_model(mesh)
    mesh.registry().SetVisibility(
        R.SetVisibilityRequest(name=public.name, visibility=model_pb2.VISIBILITY_PUBLIC),
        metadata=mesh.metadata("root", superuser=True),
    )
    return {"private": private, "public": public}


def model_for(request: pytest.FixtureRequest, rpc: str, role: str, expected: Any) -> Fixture:
    if expected == OK and rpc in CHANGES_THE_MODEL:
        model: Fixture = request.getfixturevalue("model")
        return model
    shared: dict[str, Fixture] = request.getfixturevalue("shared_models")
    return shared["public" if role == "public" else "private"]


def caller_metadata(mesh: Mesh, model: Fixture, role: str) -> Any:
    if role == "superuser":
        return mesh.metadata("root", superuser=True)
    if role == "owner":
        return mesh.metadata(model.owner)
    if role == "reader":
        return mesh.metadata(model.reader)
    if role.startswith("named:"):
        return mesh.metadata(role.removeprefix("named:"))
    if role == "public":
        mesh.registry().SetVisibility(
            R.SetVisibilityRequest(name=model.name, visibility=model_pb2.VISIBILITY_PUBLIC),
            metadata=mesh.metadata("root", superuser=True),
        )
    return mesh.metadata(f"stranger-{model.name}")


@pytest.mark.parametrize(("rpc", "role", "expected"), CASES)
def test_role_against_rpc(
    mesh: Mesh, request: pytest.FixtureRequest, rpc: str, role: str, expected: Any
) -> None:
    call, _ = MATRIX[rpc]
    model = model_for(request, rpc, role, expected)
    metadata = caller_metadata(mesh, model, role)
    if expected == OK:
        call(mesh.registry(), model, metadata)
        return
    with pytest.raises(grpc.RpcError) as failure:
        call(mesh.registry(), model, metadata)
    assert failure.value.code() == expected, failure.value.details()
    if expected == NF and rpc != "CreateModel":
        assert model.name in failure.value.details()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_owner_named_like_a_role_makes_no_one_else_an_owner(mesh: Mesh, model: Fixture, name: str) -> None:
    su = mesh.metadata("root", superuser=True)
    stub = mesh.registry()
    stub.SetVisibility(
        R.SetVisibilityRequest(name=model.name, visibility=model_pb2.VISIBILITY_PUBLIC), metadata=su
    )
    stub.GrantAccess(R.GrantAccessRequest(name=model.name, user=name, role=OWNER), metadata=su)
    update = R.UpdateModelRequest(
        model=model_pb2.Model(name=model.name, description="by the new owner"),
        update_mask=field_mask_pb2.FieldMask(paths=["description"]),
    )
    stub.UpdateModel(update, metadata=mesh.metadata(name))
    for other in (model.reader, f"stranger-{model.name}"):
        with pytest.raises(grpc.RpcError) as failure:
            stub.UpdateModel(update, metadata=mesh.metadata(other))
        assert failure.value.code() == PD, other
    grants = stub.ListAccess(R.ListAccessRequest(name=model.name), metadata=su).grants
    assert sorted(g.user for g in grants if g.role == OWNER) == sorted([model.owner, name])


@pytest.mark.parametrize(
    ("role", "visible"),
    [("superuser", True), ("owner", True), ("reader", True), ("stranger", False), ("public", True)],
)
def test_list_models_shows_only_readable(
    mesh: Mesh, shared_models: dict[str, Fixture], role: str, visible: bool
) -> None:
    model = shared_models["public" if role == "public" else "private"]
    metadata = caller_metadata(mesh, model, role)
    page = mesh.registry().ListModels(R.ListModelsRequest(tag=model.name), metadata=metadata)
    assert [m.name for m in page.models] == ([model.name] if visible else [])


@pytest.mark.parametrize(
    ("role", "visible"),
    [("superuser", True), ("owner", True), ("reader", True), ("stranger", False), ("public", True)],
)
def test_search_models_finds_only_readable(
    mesh: Mesh, shared_models: dict[str, Fixture], role: str, visible: bool
) -> None:
    model = shared_models["public" if role == "public" else "private"]
    metadata = caller_metadata(mesh, model, role)
    for request in (
        R.SearchModelsRequest(tags=[model.name]),
        R.SearchModelsRequest(q=model.name),
        R.SearchModelsRequest(q="test", tags=[model.name]),
    ):
        page = mesh.registry().SearchModels(request, metadata=metadata)
        assert [h.model.name for h in page.hits] == ([model.name] if visible else [])


def test_every_rpc_is_in_the_matrix() -> None:
    methods = R.DESCRIPTOR.services_by_name["RegistryService"].methods_by_name
    covered = {label.split("(")[0] for label in MATRIX} | {"ListModels", "SearchModels"}
    assert covered == set(methods)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_user_named_like_a_role_cannot_list_a_models_jobs(
    mesh: Mesh, shared_models: dict[str, Fixture], name: str
) -> None:
    model = shared_models["private"]
    jobs = execution_pb2_grpc.ExecutionServiceStub(mesh.channel("execution"))
    request = execution_pb2.ListJobsRequest(model=model.name)
    jobs.ListJobs(request, metadata=mesh.metadata(model.owner))
    with pytest.raises(grpc.RpcError) as failure:
        jobs.ListJobs(request, metadata=mesh.metadata(name))
    assert failure.value.code() == NF
