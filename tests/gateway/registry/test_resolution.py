"""The version resolution rule, with no servers."""

from __future__ import annotations

import pytest

from gateway.registry.resolution import Resolution, ResolvedBy, resolve_version


@pytest.mark.parametrize(
    ("requested", "default", "latest", "expected"),
    [
        ("1.0", "2.0", "3.0", Resolution("1.0", ResolvedBy.REQUESTED)),
        (None, "2.0", "3.0", Resolution("2.0", ResolvedBy.DEFAULT)),
        ("", "2.0", "3.0", Resolution("2.0", ResolvedBy.DEFAULT)),
        (None, None, "3.0", Resolution("3.0", ResolvedBy.LATEST)),
        (None, "", "3.0", Resolution("3.0", ResolvedBy.LATEST)),
        (None, None, None, None),
        ("1.0", None, None, Resolution("1.0", ResolvedBy.REQUESTED)),
    ],
)
def test_resolution_rule(
    requested: str | None, default: str | None, latest: str | None, expected: Resolution | None
) -> None:
    assert resolve_version(requested, default, latest) == expected
