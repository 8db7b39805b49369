"""The python backend: an importable function called with the whole batch of records.

config: {"callable": "package.module:function"}. The function takes the list
of records and returns a list aligned with it, each item an output dict or a
RecordError instance (that record failed). Both synchronous and coroutine
functions run out of the worker, in its pool of model processes
(workers.backends.python_pool), one batch per process at a time: model code
cannot end the worker, and a process that dies fails only its batch, with
reason model_crashed.

The module must be within the operator's allow-list (backendspec.policy),
checked before anything is imported, and the function must be defined there,
checked after: an allowed module's imports (its `os`, a `from subprocess import
run`) are not callables a version may name.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from backendspec import BackendNotAllowed, BackendPolicy
from backendspec.python_kind import CALLABLE_PATH
from workers.backends.base import (
    BackendError,
    RecordError,
    RecordOutcome,
    check_result_length,
    output_outcome,
)
from workers.backends.python_pool import ModelProcessPool

ModelFunction = Callable[[list[dict[str, Any]]], Any]


def resolve_callable(path: str) -> ModelFunction:
    """Import "package.module:function"; ValueError unless path has that form."""
    match = CALLABLE_PATH.fullmatch(path)
    if match is None:
        raise ValueError(f"{path!r} is not of the form 'package.module:function'")
    target: Any = getattr(importlib.import_module(match["module"]), match["name"])
    if not callable(target):
        raise TypeError(f"{path} is a {type(target).__name__}, not a callable")
    function: ModelFunction = target
    return function


class PythonBackend:
    kind = "python"

    def __init__(self, policy: BackendPolicy | None = None, processes: int | None = None) -> None:
        self._policy = policy or BackendPolicy()
        # Started when first needed: a backend built to check configs starts none.
        self._pool = ModelProcessPool(self._policy, processes or default_model_processes())

    @property
    def pool(self) -> ModelProcessPool:
        return self._pool

    async def run(
        self, records: list[dict[str, Any]], config: dict[str, Any]
    ) -> list[RecordOutcome]:
        path = config.get("callable")
        if not isinstance(path, str):
            raise BackendError("model_error", "python backend config has no 'callable' string")
        try:
            self._policy.check_callable(path)  # before a model process imports anything
        except BackendNotAllowed as exc:
            raise BackendError("backend_not_allowed", exc.message) from None
        return await self._pool.run(path, records)

    async def aclose(self) -> None:
        await self._pool.aclose()


def default_model_processes() -> int:
    """Without a worker's --model-processes: one per core."""
    return os.cpu_count() or 1


def outcomes(results: object, expected: int) -> list[RecordOutcome]:
    if not isinstance(results, list | tuple):
        raise BackendError(
            "invalid_output",
            f"the model returned a {type(results).__name__}; it must return a list "
            "with one dict or RecordError per record",
        )
    check_result_length(results, expected)
    return [
        RecordOutcome(error=str(item) or type(item).__name__)
        if isinstance(item, RecordError)
        else output_outcome(item, index)
        for index, item in enumerate(results)
    ]


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
