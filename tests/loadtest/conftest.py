"""Envoy in front of the session mesh, for the REST locustfile (the fixture of tests/gateway/edge)."""

from tests.gateway.edge.conftest import edge  # noqa: F401
