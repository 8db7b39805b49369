"""The backend kinds a worker runs, and the check of a whole spec.

"consensus" is a kind of version too, but a formula over other models that the
registry checks with the consensus package: it has no config here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backendspec.base import BackendSpecError
from backendspec.http_kind import check_http_config
from backendspec.python_kind import check_python_config
from backendspec.subprocess_kind import check_subprocess_config

_CONFIG_CHECKS: dict[str, Callable[[object], None]] = {
    "python": check_python_config,
    "subprocess": check_subprocess_config,
    "http": check_http_config,
}
BACKEND_KINDS: frozenset[str] = frozenset(_CONFIG_CHECKS)


def check_config(kind: str, config: object) -> None:
    """BackendSpecError naming the offending key, or the kinds there are."""
    check = _CONFIG_CHECKS.get(kind)
    if check is None:
        raise BackendSpecError(
            f"unknown backend kind {kind!r}: workers run {', '.join(sorted(BACKEND_KINDS))}"
        )
    check(config)


def check_backend_spec(spec: dict[str, Any]) -> None:
    """Check a whole {"kind", "config"} spec; BackendSpecError naming the offending key."""
    kind = spec.get("kind")
    if not isinstance(kind, str):
        raise BackendSpecError(
            "backend spec key 'kind' is required: " + ", ".join(sorted(BACKEND_KINDS))
        )
    check_config(kind, spec.get("config") or {})
