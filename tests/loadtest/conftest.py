"""Envoy in front of the session mesh, for the REST locustfile (the fixture of tests/edge)."""

from tests.edge.conftest import edge  # noqa: F401
