"""A model's limits as they apply, and who may change them to what, with no servers."""

from __future__ import annotations

import math

import pytest

from gateway.errors import InvalidArgument, PermissionDenied
from gateway.registry.limits import LimitValues, PlatformLimits, effective, mask_fields, updated
from modelgateway.v1 import model_pb2
from scheduler.admission import ModelAdmission

PLATFORM = PlatformLimits(
    defaults=LimitValues(max_queued_jobs=100, max_queued_records=1000, user_jobs_per_second=0),
    caps=LimitValues(max_queued_jobs=100, max_queued_records=5000, user_jobs_per_second=0),
)
NONE = LimitValues()


def test_the_platform_default_applies_until_owners_set_their_own() -> None:
    applied = effective(NONE, NONE, PLATFORM)
    assert applied.admission == ModelAdmission(100, 1000, 0.0)
    assert applied.max_queued_jobs.describe() == "the platform's default (MODELGW_MODEL_MAX_QUEUED = 100)"
    own = effective(LimitValues(max_queued_jobs=7, user_jobs_per_second=0.5), NONE, PLATFORM)
    assert own.admission == ModelAdmission(7, 1000, 0.5)
    assert own.max_queued_jobs.describe() == "the model's own limit (limits.max_queued_jobs = 7)"
    assert own.user_jobs_per_second.describe() == "the model's own limit (limits.user_jobs_per_second = 0.5)"
    assert own.admission.user_jobs_burst == 1


def test_a_cap_lowers_whatever_is_above_it() -> None:
    caps = LimitValues(max_queued_jobs=10, user_jobs_per_second=2)
    applied = effective(LimitValues(max_queued_jobs=50), caps, PLATFORM)
    assert applied.admission == ModelAdmission(10, 1000, 2.0)  # no rate by default: the cap's
    assert applied.max_queued_jobs.describe() == "the model's cap (limit_caps.max_queued_jobs = 10)"
    # A platform cap lowered below what an owner set earlier applies too.
    lowered = PlatformLimits(PLATFORM.defaults, LimitValues(max_queued_jobs=100, max_queued_records=1000))
    applied = effective(LimitValues(max_queued_records=3000), NONE, lowered)
    assert applied.max_queued_records.describe() == (
        "the platform's cap (MODELGW_MODEL_MAX_QUEUED_RECORDS_CAP = 1000)"
    )


def _model(**fields: model_pb2.ModelLimits) -> model_pb2.Model:
    return model_pb2.Model(name="m", **fields)


def test_owners_set_limits_within_the_caps() -> None:
    request = _model(limits=model_pb2.ModelLimits(max_queued_jobs=60, max_queued_records=4000))
    fields = mask_fields("limits")
    assert fields is not None
    limits, caps = updated(request, fields, (NONE, NONE), PLATFORM, superuser=False)
    assert (limits, caps) == (LimitValues(60, 4000, 0.0), NONE)
    request = _model(limits=model_pb2.ModelLimits(max_queued_jobs=150))
    with pytest.raises(InvalidArgument) as refusal:
        updated(request, [("limits", "max_queued_jobs")], (NONE, NONE), PLATFORM, superuser=False)
    assert "limits.max_queued_jobs 150 is above its cap" in refusal.value.message
    assert "MODELGW_MODEL_MAX_QUEUED_CAP = 100" in refusal.value.message


def test_only_superusers_set_caps_and_may_raise_one_with_the_limit() -> None:
    request = _model(
        limits=model_pb2.ModelLimits(max_queued_jobs=150),
        limit_caps=model_pb2.ModelLimits(max_queued_jobs=200),
    )
    fields = [("limits", "max_queued_jobs"), ("limit_caps", "max_queued_jobs")]
    with pytest.raises(PermissionDenied, match="a superuser must raise the cap"):
        updated(request, fields, (NONE, NONE), PLATFORM, superuser=False)
    limits, caps = updated(request, fields, (NONE, NONE), PLATFORM, superuser=True)
    assert (limits.max_queued_jobs, caps.max_queued_jobs) == (150, 200)


@pytest.mark.parametrize(
    ("limits", "complaint"),
    [
        (model_pb2.ModelLimits(max_queued_jobs=-1), "limits.max_queued_jobs -1 must not be negative"),
        (model_pb2.ModelLimits(user_jobs_per_second=math.nan), "limits.user_jobs_per_second nan is not a finite number"),
        (model_pb2.ModelLimits(user_jobs_per_second=-0.5), "must not be negative"),
        (model_pb2.ModelLimits(user_jobs_per_second=1e9), "above the highest rate accepted"),
    ],
)
def test_bad_values_are_named(limits: model_pb2.ModelLimits, complaint: str) -> None:
    fields = mask_fields("limits")
    assert fields is not None
    caps = LimitValues(user_jobs_per_second=1e12)
    with pytest.raises(InvalidArgument, match=complaint):
        updated(_model(limits=limits), fields, (NONE, caps), PLATFORM, superuser=True)


def test_mask_paths() -> None:
    assert mask_fields("limit_caps.max_queued_records") == [("limit_caps", "max_queued_records")]
    assert mask_fields("limits.nope") is None
    assert mask_fields("limitsx") is None
    assert mask_fields("limits.") is None
    assert mask_fields("description") is None
