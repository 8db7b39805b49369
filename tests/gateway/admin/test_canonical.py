"""Catalog comparison, with no servers: a version registered through the API
(numbers pass through protobuf Structs as doubles) equals its catalog entry."""

from __future__ import annotations

from gateway.admin.sync import _canonical


def test_integral_doubles_compare_equal_to_integers() -> None:
    catalog = {"config": {"timeout_s": 60}, "schema": {"maxLength": 2000, "items": [1, 2.5]}}
    registered = {"schema": {"items": [1.0, 2.5], "maxLength": 2000.0}, "config": {"timeout_s": 60.0}}
    assert _canonical(catalog) == _canonical(registered)
    assert _canonical({"x": 2.5}) != _canonical({"x": 2})
