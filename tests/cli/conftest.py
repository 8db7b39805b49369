"""Envoy in front of the session mesh, for the user commands (models, jobs, login)."""

from __future__ import annotations

from tests.gateway.edge.conftest import edge  # noqa: F401  (Envoy in front of the mesh)
