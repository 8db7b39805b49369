"""Model backends: how a worker runs a batch of records for a version's backend spec.

A version's spec is {"kind": ..., "config": {...}}, checked by the backendspec
package. A worker keeps one backend per kind for its whole life (Backends does
that and closes them), so the http backend's
connection pool and the python backend's model processes (with the callables
they imported) are shared by every job. Backends built for a worker carry its
allow-list (backendspec.BackendPolicy), its subprocess limits
(sandbox.SubprocessLimits) and the size of its pool of python model processes.
The "consensus" kind is a formula over other models and is run elsewhere.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from backendspec import BACKEND_KINDS, BackendPolicy, BackendSpecError
from workers.backends.base import (
    FAILURE_REASONS,
    Backend,
    BackendError,
    FailureReason,
    RecordError,
    RecordOutcome,
)
from workers.backends.command import SubprocessBackend
from workers.backends.python import PythonBackend
from workers.backends.sandbox import SubprocessLimits

if TYPE_CHECKING:
    from workers.backends.oip import HttpBackend


class Backends:
    """One backend per kind for a worker's lifetime; `async with` closes them all."""

    def __init__(
        self,
        policy: BackendPolicy | None = None,
        limits: SubprocessLimits | None = None,
        model_processes: int | None = None,
    ) -> None:
        self._policy = policy or BackendPolicy()
        self._limits = limits or SubprocessLimits()
        self._model_processes = model_processes
        self._backends: dict[str, Backend] = {}

    def get(self, kind: str) -> Backend:
        backend = self._backends.get(kind)
        if backend is None:
            backend = self._backends[kind] = self._new(kind)
        return backend

    def _new(self, kind: str) -> Backend:
        if kind == "python":
            return PythonBackend(self._policy, self._model_processes)
        if kind == "subprocess":
            return SubprocessBackend(self._policy, self._limits)
        if kind == "http":
            from workers.backends.oip import HttpBackend

            return HttpBackend()
        raise BackendSpecError(
            f"unknown backend kind {kind!r}: workers run {', '.join(sorted(BACKEND_KINDS))}"
        )

    def warm(self) -> None:
        """Starts the python backend's model processes ahead of the first job."""
        python = self.get("python")
        assert isinstance(python, PythonBackend)
        python.pool.warm()

    async def run(self, spec: dict[str, Any], records: list[dict[str, Any]]) -> list[RecordOutcome]:
        """Run records through the backend the spec names."""
        kind = str(spec.get("kind", ""))
        config = dict(spec.get("config") or {})
        if kind == "subprocess" and "timeout_s" in spec:
            # A subprocess's CPU limit defaults to its job's timeout, kept beside the config.
            config["timeout_s"] = spec["timeout_s"]
        return await self.get(kind).run(records, config)

    async def aclose(self) -> None:
        backends, self._backends = self._backends, {}
        for backend in backends.values():
            await backend.aclose()

    async def __aenter__(self) -> Backends:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def __getattr__(name: str) -> Any:
    # The http backend imports httpx (a fifth of a second): imported when first used,
    # so that a python model process, which imports this package, starts without it.
    if name == "HttpBackend":
        from workers.backends.oip import HttpBackend

        return HttpBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAILURE_REASONS",
    "Backend",
    "BackendError",
    "Backends",
    "FailureReason",
    "HttpBackend",
    "PythonBackend",
    "RecordError",
    "RecordOutcome",
    "SubprocessBackend",
    "SubprocessLimits",
]
