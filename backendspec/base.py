"""The error a malformed backend spec raises, and the checks every kind shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class BackendSpecError(Exception):
    """A backend spec is malformed; the message names the key and what it accepts.

    Its own class, not ValueError: a caller turns it into INVALID_ARGUMENT, and a
    ValueError raised by a bug must not reach the caller as the caller's mistake.
    """


def require_mapping(config: object) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise BackendSpecError(
            f"backend config must be a JSON object, not {type(config).__name__}"
        )
    return config


def reject_unknown_keys(kind: str, config: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise BackendSpecError(
            f"unknown {kind} backend config key {unknown[0]!r}: "
            f"the {kind} backend accepts {', '.join(allowed)}"
        )
