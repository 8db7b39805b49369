"""Which version of a model a request runs.

The one rule, used everywhere a model is resolved (GetModel, GetModelVersion,
and job submission): a version the caller names explicitly; otherwise the
owner's chosen default version; otherwise the most recently created version.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.errors import FailedPrecondition


class ResolvedBy(enum.Enum):
    """What chose a version: the caller, the model's default, or being the latest."""

    REQUESTED = "requested"
    DEFAULT = "default"
    LATEST = "latest"


@dataclass(frozen=True)
class Resolution:
    """The version a request resolves to, and what chose it."""

    version: str
    by: ResolvedBy


def resolve_version(
    requested: str | None, default_version: str | None, latest_version: str | None
) -> Resolution | None:
    """Applies the rule; None when nothing is requested and the model has no versions.

    Whether a requested version exists is the caller's check: it needs the store.
    """
    if requested:
        return Resolution(requested, ResolvedBy.REQUESTED)
    if default_version:
        return Resolution(default_version, ResolvedBy.DEFAULT)
    if latest_version:
        return Resolution(latest_version, ResolvedBy.LATEST)
    return None


def no_versions(model: str) -> FailedPrecondition:
    """The answer for a model that has no version to resolve to."""
    return FailedPrecondition(
        f"model {model!r} has no versions yet: an owner must create one with CreateModelVersion"
    )
