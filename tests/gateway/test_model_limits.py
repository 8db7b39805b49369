"""A model's admission limits through UpdateModel: owners set limits within the
caps, superusers set the caps; against the session's registry server (platform
defaults: MODELGW_MODEL_MAX_QUEUED 100000, its cap the same)."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from modelgateway.v1 import model_pb2, registry_pb2

from .conftest import Fixture, Mesh

INVALID, DENIED = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED


def _update(mesh: Mesh, model: str, user: str, paths: list[str], **fields: model_pb2.ModelLimits) -> model_pb2.Model:
    request = registry_pb2.UpdateModelRequest(
        model=model_pb2.Model(name=model, **fields),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    metadata = mesh.metadata(user, superuser=user == "root")
    return mesh.registry().UpdateModel(request, metadata=metadata).model


def _refused(mesh: Mesh, model: str, user: str, paths: list[str], **fields: model_pb2.ModelLimits) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        _update(mesh, model, user, paths, **fields)
    return failure.value


def test_owner_sets_limits_within_caps_a_superuser_raises(mesh: Mesh, model: Fixture) -> None:
    after = _update(
        mesh, model.name, model.owner, ["limits.max_queued_jobs", "description"],
        limits=model_pb2.ModelLimits(max_queued_jobs=10, max_queued_records=5), description="limited",
    )  # fmt: skip
    assert after.limits == model_pb2.ModelLimits(max_queued_jobs=10)  # only what the mask names
    assert after.description == "limited"
    assert (after.effective_limits.max_queued_jobs, after.effective_limits.max_queued_records) == (10, 1_000_000)

    above = _refused(mesh, model.name, model.owner, ["limits.max_queued_jobs"], limits=model_pb2.ModelLimits(max_queued_jobs=250_000))
    assert above.code() == INVALID
    assert "limits.max_queued_jobs 250000 is above its cap" in above.details()
    assert "MODELGW_MODEL_MAX_QUEUED_CAP = 100000" in above.details()

    raised = _update(mesh, model.name, "root", ["limit_caps.max_queued_jobs"], limit_caps=model_pb2.ModelLimits(max_queued_jobs=500_000))
    assert raised.limit_caps.max_queued_jobs == 500_000
    assert raised.effective_limits.max_queued_jobs == 10  # the cap allows more; the owner chose 10
    accepted = _update(mesh, model.name, model.owner, ["limits"], limits=model_pb2.ModelLimits(max_queued_jobs=250_000))
    assert accepted.effective_limits.max_queued_jobs == 250_000
    got = mesh.registry().GetModel(registry_pb2.GetModelRequest(name=model.name), metadata=mesh.metadata(model.reader)).model
    assert (got.limits.max_queued_jobs, got.limit_caps.max_queued_jobs) == (250_000, 500_000)

    # A superuser's cap below the owner's value lowers the limit in force.
    lowered = _update(mesh, model.name, "root", ["limit_caps"], limit_caps=model_pb2.ModelLimits(max_queued_jobs=50))
    assert (lowered.limits.max_queued_jobs, lowered.effective_limits.max_queued_jobs) == (250_000, 50)


def test_readers_set_no_limits_and_owners_no_caps(mesh: Mesh, model: Fixture) -> None:
    reader = _refused(mesh, model.name, model.reader, ["limits.max_queued_jobs"], limits=model_pb2.ModelLimits(max_queued_jobs=1))
    assert reader.code() == DENIED
    owner = _refused(mesh, model.name, model.owner, ["limit_caps.max_queued_jobs"], limit_caps=model_pb2.ModelLimits(max_queued_jobs=500_000))
    assert owner.code() == DENIED
    assert "superusers only" in owner.details() and "a superuser must raise the cap" in owner.details()
    after = mesh.registry().GetModel(registry_pb2.GetModelRequest(name=model.name), metadata=mesh.metadata(model.owner)).model
    assert after.limit_caps == model_pb2.ModelLimits() and after.limits == model_pb2.ModelLimits()


@pytest.mark.parametrize(
    ("paths", "limits", "complaint"),
    [
        (["limits.max_queued_records"], model_pb2.ModelLimits(max_queued_records=-3), "limits.max_queued_records -3 must not be negative"),
        (["limits.user_jobs_per_second"], model_pb2.ModelLimits(user_jobs_per_second=float("inf")), "not a finite number"),
        (["limits.max_queued"], model_pb2.ModelLimits(), "cannot be updated: limits.max_queued; updatable are"),
    ],
)
def test_bad_limits_are_invalid_argument(mesh: Mesh, model: Fixture, paths: list[str], limits: model_pb2.ModelLimits, complaint: str) -> None:
    failure = _refused(mesh, model.name, model.owner, paths, limits=limits)
    assert failure.code() == INVALID
    assert complaint in failure.details()
