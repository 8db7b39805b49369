"""Python backends for the worker tests, with their model processes stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from backendspec import BackendPolicy
from workers.backends import PythonBackend

MakeBackend = Callable[..., PythonBackend]


@pytest.fixture
async def python_backend() -> AsyncIterator[MakeBackend]:
    """PythonBackend(policy, processes), closed (its model processes killed) after the test."""
    made: list[PythonBackend] = []

    def make(policy: BackendPolicy | None = None, processes: int | None = None) -> PythonBackend:
        backend = PythonBackend(policy, processes)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()
