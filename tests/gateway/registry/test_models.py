"""The registry through real gRPC calls: lifecycle, resolution, paging, bad input."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from modelgateway.v1 import model_pb2
from modelgateway.v1 import registry_pb2 as R
from tests.gateway.conftest import Fixture, Mesh, any_object_version, unique_name
from tests.gateway.registry._calls import EXISTS, INVALID, NOT_FOUND, expect, su


def test_newcomer_flow(mesh: Mesh) -> None:
    """The README's walk-through: superuser creates, owner sets default and grants, reader reads."""
    stub, name = mesh.registry(), unique_name("flow")
    created = stub.CreateModel(
        R.CreateModelRequest(
            model=model_pb2.Model(
                name=name, display_name="Flow", description="Predicts logP.", tags=["admet"]
            )
        ),
        metadata=su(mesh),
    ).model
    assert created.visibility == model_pb2.VISIBILITY_PRIVATE
    assert (created.owners, created.readers, created.versions) == ([], [], [])
    for v in ("1.0.0", "1.1.0"):
        stub.CreateModelVersion(
            R.CreateModelVersionRequest(model=name, version=any_object_version(v)),
            metadata=su(mesh),
        )
    stub.GrantAccess(
        R.GrantAccessRequest(name=name, user="olga", role=model_pb2.ACCESS_ROLE_OWNER),
        metadata=su(mesh),
    )

    olga = mesh.metadata("olga")
    after = stub.SetDefaultVersion(
        R.SetDefaultVersionRequest(name=name, version="1.0.0"), metadata=olga
    ).model
    assert (after.default_version, after.resolved_version) == ("1.0.0", "1.0.0")
    stub.GrantAccess(
        R.GrantAccessRequest(name=name, user="rita", role=model_pb2.ACCESS_ROLE_READER),
        metadata=olga,
    )

    seen = stub.GetModel(R.GetModelRequest(name=name), metadata=mesh.metadata("rita")).model
    assert seen.resolved_version == "1.0.0"
    assert list(seen.versions) == ["1.0.0", "1.1.0"]
    assert (list(seen.owners), list(seen.readers)) == (["olga"], ["rita"])
    expect(
        NOT_FOUND,
        lambda: stub.GetModel(R.GetModelRequest(name=name), metadata=mesh.metadata("trudy")),
        name,
    )


def test_resolution_latest_then_default_then_cleared(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    assert (
        stub.GetModel(R.GetModelRequest(name=model.name), metadata=su(mesh)).model.resolved_version
        == "2.0.0"
    )
    resolved = stub.GetModelVersion(R.GetModelVersionRequest(model=model.name), metadata=su(mesh))
    assert (resolved.version.version, resolved.resolved) == ("2.0.0", True)

    stub.SetDefaultVersion(
        R.SetDefaultVersionRequest(name=model.name, version="1.0.0"), metadata=su(mesh)
    )
    stub.CreateModelVersion(
        R.CreateModelVersionRequest(model=model.name, version=any_object_version("3.0.0")),
        metadata=su(mesh),
    )
    got = stub.GetModel(R.GetModelRequest(name=model.name), metadata=su(mesh)).model
    assert (got.default_version, got.resolved_version) == ("1.0.0", "1.0.0")
    assert (
        stub.GetModelVersion(
            R.GetModelVersionRequest(model=model.name), metadata=su(mesh)
        ).version.version
        == "1.0.0"
    )

    cleared = stub.SetDefaultVersion(
        R.SetDefaultVersionRequest(name=model.name), metadata=su(mesh)
    ).model
    assert (cleared.default_version, cleared.resolved_version) == ("", "3.0.0")


def test_model_without_versions(mesh: Mesh) -> None:
    stub, name = mesh.registry(), unique_name()
    stub.CreateModel(R.CreateModelRequest(model=model_pb2.Model(name=name)), metadata=su(mesh))
    assert (
        stub.GetModel(R.GetModelRequest(name=name), metadata=su(mesh)).model.resolved_version == ""
    )
    expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        lambda: stub.GetModelVersion(R.GetModelVersionRequest(model=name), metadata=su(mesh)),
        "no versions",
    )


def test_version_round_trip(mesh: Mesh, model: Fixture) -> None:
    got = (
        mesh.registry()
        .GetModelVersion(
            R.GetModelVersionRequest(model=model.name, version="1.0.0"),
            metadata=mesh.metadata(model.reader),
        )
        .version
    )
    assert got.backend.kind == "python"
    assert dict(got.backend.config) == {"callable": "workers.builtin.demo:echo"}
    assert got.input_schema["required"][0] == "smiles"
    assert got.notes == "release 1.0.0"
    assert got.create_time.seconds > 0


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", ["model.name is required"]),
        ("x" * 129, ["not a valid model name"]),
        ("Upper", ["not a valid model name"]),
        ("-dash", ["not a valid model name"]),
        ("a..b", ["not a valid model name"]),
    ],
)
def test_create_model_rejects_bad_names(mesh: Mesh, name: str, words: list[str]) -> None:
    expect(
        INVALID,
        lambda: mesh.registry().CreateModel(
            R.CreateModelRequest(model=model_pb2.Model(name=name)), metadata=su(mesh)
        ),
        *words,
    )


def test_duplicates_are_refused(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    expect(
        EXISTS,
        lambda: stub.CreateModel(
            R.CreateModelRequest(model=model_pb2.Model(name=model.name)), metadata=su(mesh)
        ),
        "already exists",
    )
    expect(
        EXISTS,
        lambda: stub.CreateModelVersion(
            R.CreateModelVersionRequest(model=model.name, version=any_object_version("1.0.0")),
            metadata=su(mesh),
        ),
        "immutable",
    )


def bad_version(**changes: object) -> model_pb2.ModelVersion:
    version = any_object_version("9.9.9")
    for field, value in changes.items():
        if field in ("input_schema", "output_schema"):
            getattr(version, field).Clear()
            getattr(version, field).update(value)
        elif field == "kind":
            version.backend.kind = str(value)
        elif field == "config":
            version.backend.config.Clear()
            version.backend.config.update(value)
        else:
            setattr(version, field, value)
    return version


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (bad_version(version=""), ["version.version is required"]),
        (bad_version(version="1 0"), ["not a valid version"]),
        (bad_version(kind=""), ["backend.kind is required"]),
        (bad_version(kind="docker"), ["'docker' is unknown"]),
        (
            bad_version(input_schema={"type": "strin"}),
            ["input_schema is not a valid JSON Schema", "type"],
        ),
        (
            bad_version(output_schema={"properties": {"x": {"minimum": "zero"}}}),
            ["output_schema", "properties/x/minimum"],
        ),
        (bad_version(notes="n" * 20_001), ["notes is 20001 characters"]),
        (bad_version(config={"callable": "no_colon"}), ["version.backend.config", "module:function"]),
        (bad_version(config={"callable": "a:b", "timeout_s": -1}), ["timeout_s"]),
        (bad_version(config={"callable": "a:b", "typo": 1}), ["version.backend.config", "typo"]),
    ],
)
def test_create_version_rejects_bad_input_and_writes_nothing(
    mesh: Mesh, model: Fixture, version: model_pb2.ModelVersion, words: list[str]
) -> None:
    stub = mesh.registry()
    expect(
        INVALID,
        lambda: stub.CreateModelVersion(
            R.CreateModelVersionRequest(model=model.name, version=version), metadata=su(mesh)
        ),
        *words,
    )
    after = stub.GetModel(R.GetModelRequest(name=model.name), metadata=su(mesh)).model
    assert list(after.versions) == ["1.0.0", "2.0.0"]


def test_unknown_versions_and_models(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    expect(
        NOT_FOUND,
        lambda: stub.GetModelVersion(
            R.GetModelVersionRequest(model=model.name, version="7.7.7"), metadata=su(mesh)
        ),
        "no version '7.7.7'",
    )
    expect(
        NOT_FOUND,
        lambda: stub.SetDefaultVersion(
            R.SetDefaultVersionRequest(name=model.name, version="7.7.7"), metadata=su(mesh)
        ),
        "7.7.7",
    )
    assert (
        stub.GetModel(R.GetModelRequest(name=model.name), metadata=su(mesh)).model.default_version
        == ""
    )
    expect(
        NOT_FOUND,
        lambda: stub.GetModel(R.GetModelRequest(name="no-such-model"), metadata=su(mesh)),
        "no-such-model",
    )
    expect(
        INVALID, lambda: stub.GetModel(R.GetModelRequest(name=""), metadata=su(mesh)), "required"
    )


def test_update_model_with_field_mask(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    before = stub.GetModel(R.GetModelRequest(name=model.name), metadata=su(mesh)).model
    after = stub.UpdateModel(
        R.UpdateModelRequest(
            model=model_pb2.Model(name=model.name, display_name="New name", description="ignored"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
        metadata=mesh.metadata(model.owner),
    ).model
    assert (after.display_name, after.description) == ("New name", before.description)
    assert after.update_time.ToDatetime() > before.update_time.ToDatetime()
    for paths, word in ((["name"], "cannot be updated: name"), ([], "update_mask is required")):
        expect(
            INVALID,
            lambda paths=paths: stub.UpdateModel(  # type: ignore[misc]
                R.UpdateModelRequest(
                    model=model_pb2.Model(name=model.name),
                    update_mask=field_mask_pb2.FieldMask(paths=paths),
                ),
                metadata=su(mesh),
            ),
            word,
        )


def test_paging_through_models_and_versions(mesh: Mesh) -> None:
    stub, tag = mesh.registry(), unique_name("tag")
    names = sorted(unique_name("page") for _ in range(5))
    for name in names:
        stub.CreateModel(
            R.CreateModelRequest(model=model_pb2.Model(name=name, tags=[tag])), metadata=su(mesh)
        )
    seen, token = [], ""
    while True:
        page = stub.ListModels(
            R.ListModelsRequest(tag=tag, page_size=2, page_token=token), metadata=su(mesh)
        )
        seen += [m.name for m in page.models]
        token = page.next_page_token
        if not token:
            break
    assert seen == names
    expect(
        INVALID,
        lambda: stub.ListModels(R.ListModelsRequest(page_token="garbage"), metadata=su(mesh)),
        "page_token",
    )
    expect(
        INVALID,
        lambda: stub.ListModels(R.ListModelsRequest(page_size=5000), metadata=su(mesh)),
        "page_size",
    )

    for v in ("1", "2", "3"):
        stub.CreateModelVersion(
            R.CreateModelVersionRequest(model=names[0], version=any_object_version(v)),
            metadata=su(mesh),
        )
    first = stub.ListModelVersions(
        R.ListModelVersionsRequest(model=names[0], page_size=2), metadata=su(mesh)
    )
    second = stub.ListModelVersions(
        R.ListModelVersionsRequest(model=names[0], page_size=2, page_token=first.next_page_token),
        metadata=su(mesh),
    )
    assert [v.version for v in first.versions] + [v.version for v in second.versions] == [
        "1",
        "2",
        "3",
    ]
    assert second.next_page_token == ""


def test_values_the_database_cannot_store_are_invalid_arguments(mesh: Mesh, model: Fixture) -> None:
    """Found by schemathesis: a NUL character used to reach PostgreSQL and fail as INTERNAL."""
    stub = mesh.registry()
    expect(INVALID, lambda: stub.SetDefaultVersion(R.SetDefaultVersionRequest(name=model.name, version="1\x00"), metadata=su(mesh)), "not a valid version")
    expect(INVALID, lambda: stub.GetModelVersion(R.GetModelVersionRequest(model=model.name, version="1\x00"), metadata=su(mesh)), "not a valid version")
    expect(
        INVALID,
        lambda: stub.UpdateModel(
            R.UpdateModelRequest(model=model_pb2.Model(name=model.name, description="a\x00b"), update_mask=field_mask_pb2.FieldMask(paths=["description"])),
            metadata=su(mesh),
        ),
        "NUL",
    )
    bad_schema = any_object_version("7.0.0")
    bad_schema.input_schema.update({"description": "nul \x00 inside"})
    expect(INVALID, lambda: stub.CreateModelVersion(R.CreateModelVersionRequest(model=model.name, version=bad_schema), metadata=su(mesh)), "cannot be stored")
