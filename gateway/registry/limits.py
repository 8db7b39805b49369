"""A model's admission limits: what its owners set, the caps superusers set on
them, the platform's defaults and caps, and what submissions to it meet.

Each limit has four values, each 0 when not set:
- the model's own limit (Model.limits), set by its owners;
- the model's cap (Model.limit_caps), set by superusers only: the most its
  owners may set;
- the platform's default and the platform's cap (MODELGW_MODEL_* settings), for
  a model that sets neither.

What applies (`effective`) is the model's own limit, else the platform's
default, lowered to the cap when above it: a cap a superuser sets below the
default restricts the model too. 0 then means no limit. The effective limits
travel with the model's entry in the execution servers' catalogs
(gateway.execution.resolution_cache), so a submission reads no database for them, and a
change reaches those catalogs on the registry's NOTIFY (migration 0007).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.errors import InvalidArgument, PermissionDenied
from modelgateway.v1 import model_pb2
from scheduler.admission import ModelAdmission

FIELDS = ("max_queued_jobs", "max_queued_records", "user_jobs_per_second")
LIMITS, CAPS = "limits", "limit_caps"
"""The Model fields holding the owners' limits and the superusers' caps."""

SETTINGS = {
    "max_queued_jobs": "MODELGW_MODEL_MAX_QUEUED",
    "max_queued_records": "MODELGW_MODEL_MAX_QUEUED_RECORDS",
    "user_jobs_per_second": "MODELGW_MODEL_USER_JOBS_PER_SECOND",
}
"""The setting of each platform default; the platform cap's is the same with _CAP."""

MAX_RATE = 1_000_000.0
"""The highest rate accepted: far beyond what a server admits, but finite."""


@dataclass(frozen=True)
class LimitValues:
    """One value per limit; 0 is unset, or no limit, as the holder says."""

    max_queued_jobs: int = 0
    max_queued_records: int = 0
    user_jobs_per_second: float = 0.0

    def message(self) -> model_pb2.ModelLimits:
        """The values as the ModelLimits message."""
        return model_pb2.ModelLimits(
            max_queued_jobs=self.max_queued_jobs,
            max_queued_records=self.max_queued_records,
            user_jobs_per_second=self.user_jobs_per_second,
        )


@dataclass(frozen=True)
class PlatformLimits:
    """The configuration's defaults and caps (0: no limit, no cap)."""

    defaults: LimitValues = LimitValues()
    caps: LimitValues = LimitValues()


@dataclass(frozen=True)
class Limit:
    """One limit as it applies, and where its value comes from."""

    value: float
    """0: no limit."""
    whose: str
    """For messages: "the model's own limit", "the platform's cap", ..."""
    setting: str
    """The field or environment variable that holds the value."""

    def describe(self) -> str:
        """Whose limit it is, with its setting and value, for an error message."""
        return f"{self.whose} ({self.setting} = {number(self.value)})"


def number(value: float) -> str:
    """A limit's value as written: 60, 0.5, 1000000 (never 1e+06)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class EffectiveLimits:
    """The limits that apply to a model, each saying whose it is (model or platform)."""

    max_queued_jobs: Limit
    max_queued_records: Limit
    user_jobs_per_second: Limit
    admission: ModelAdmission
    """The same values, as the submission script takes them."""

    def values(self) -> LimitValues:
        """The limits' values alone."""
        return LimitValues(
            self.admission.max_queued_jobs,
            self.admission.max_queued_records,
            self.admission.user_jobs_per_s,
        )


def effective(limits: LimitValues, caps: LimitValues, platform: PlatformLimits) -> EffectiveLimits:
    """What submissions to a model with these limits and caps meet."""
    jobs, records, rate = (_effective(f, limits, caps, platform) for f in FIELDS)
    admission = ModelAdmission(int(jobs.value), int(records.value), float(rate.value))
    return EffectiveLimits(jobs, records, rate, admission)


def _effective(
    field: str, limits: LimitValues, caps: LimitValues, platform: PlatformLimits
) -> Limit:
    own = getattr(limits, field)
    chosen = (
        Limit(own, "the model's own limit", f"{LIMITS}.{field}")
        if own
        else Limit(getattr(platform.defaults, field), "the platform's default", SETTINGS[field])
    )
    cap = cap_of(field, caps, platform)
    if cap.value and (not chosen.value or chosen.value > cap.value):
        return cap
    return chosen


def cap_of(field: str, caps: LimitValues, platform: PlatformLimits) -> Limit:
    """The cap on a model's own value of the limit: the model's, else the platform's."""
    own = getattr(caps, field)
    if own:
        return Limit(own, "the model's cap", f"{CAPS}.{field}")
    return Limit(getattr(platform.caps, field), "the platform's cap", f"{SETTINGS[field]}_CAP")


def mask_fields(path: str) -> list[tuple[str, str]] | None:
    """The (limits or limit_caps, field) pairs an update_mask path names, or None
    when it names none: "limits" is every field of limits."""
    if path in (LIMITS, CAPS):
        return [(path, f) for f in FIELDS]
    group, _, field = path.partition(".")
    if group in (LIMITS, CAPS) and field in FIELDS:
        return [(group, field)]
    return None


MASK_PATHS = (LIMITS, *(f"{LIMITS}.{f}" for f in FIELDS), CAPS, *(f"{CAPS}.{f}" for f in FIELDS))
"""Every update_mask path of limits, for messages."""


def updated(
    model: model_pb2.Model,
    fields: Sequence[tuple[str, str]],
    current: tuple[LimitValues, LimitValues],
    platform: PlatformLimits,
    *,
    superuser: bool,
) -> tuple[LimitValues, LimitValues]:
    """The model's (limits, caps) after an UpdateModel setting `fields` to their
    values in `model`, or the error saying why the caller may not."""
    if not superuser and any(group == CAPS for group, _ in fields):
        raise PermissionDenied(
            f"{CAPS} are set by superusers only: to go above a cap, a superuser must "
            f"raise the cap of model {model.name!r} first"
        )
    given: dict[str, dict[str, Any]] = {LIMITS: {}, CAPS: {}}
    for group, field in fields:
        given[group][field] = _checked(getattr(getattr(model, group), field), group, field)
    limits = replace(current[0], **given[LIMITS])
    caps = replace(current[1], **given[CAPS])
    for field, value in given[LIMITS].items():
        cap = cap_of(field, caps, platform)
        if cap.value and value > cap.value:
            raise InvalidArgument(
                f"{LIMITS}.{field} {number(value)} is above its cap, {cap.describe()}: "
                f"set at most {number(cap.value)}, or a superuser must raise {CAPS}.{field}"
            )
    return limits, caps


def _checked(value: float, group: str, field: str) -> float:
    unset = "the platform's default" if group == LIMITS else "the platform's cap"
    if not math.isfinite(value):
        raise InvalidArgument(f"{group}.{field} {value} is not a finite number")
    if value < 0:
        raise InvalidArgument(f"{group}.{field} {value} must not be negative (0: {unset})")
    if field == "user_jobs_per_second" and value > MAX_RATE:
        raise InvalidArgument(
            f"{group}.{field} {number(value)} is above the highest rate accepted, "
            f"{number(MAX_RATE)}"
        )
    return value
