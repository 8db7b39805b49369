"""Python backends for the worker tests, with their model processes stopped after each
test, and a Redis of a test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from backendspec import BackendPolicy
from mesh import LocalRedis, free_port
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


@pytest.fixture
def own_redis_url(scratch_dir: Path) -> Iterator[str]:
    """A Redis of the test's own, for tests that empty it or stop workers on it."""
    server = LocalRedis(scratch_dir, free_port(), persistence=False)
    try:
        yield server.start()
    finally:
        server.stop()
