"""The python backend: an importable function called with the whole batch of records.

config: {"callable": "package.module:function"}. The function takes the list
of records and returns a list aligned with it, each item an output dict or a
RecordError instance (that record failed). Synchronous functions run in a
thread so a slow model never blocks the worker's event loop; coroutine
functions are awaited.

The module must be within the operator's allow-list (workers.backends.policy),
checked before anything is imported, and the function must be defined there,
checked after: an allowed module's imports (its `os`, a `from subprocess import
run`) are not callables a version may name.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from workers.backends.base import (
    BackendError,
    RecordError,
    RecordOutcome,
    check_result_length,
    output_outcome,
    reject_unknown_keys,
    require_mapping,
)
from workers.backends.policy import CALLABLE_PATH, BackendNotAllowed, BackendPolicy

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

    def __init__(self, policy: BackendPolicy | None = None) -> None:
        self._policy = policy or BackendPolicy()
        # Resolved once per path: importing is slow and module state (loaded
        # weights, built catalogues) should be built once per worker.
        self._functions: dict[str, ModelFunction] = {}

    def check_config(self, config: dict[str, Any]) -> None:
        config = require_mapping(config)
        reject_unknown_keys(self.kind, config, ("callable",))
        path = config.get("callable")
        if not isinstance(path, str) or not path:
            raise ValueError(
                "python backend config key 'callable' is required: a string "
                "'package.module:function', for example 'workers.builtin.chemistry:logp'"
            )
        if not CALLABLE_PATH.fullmatch(path):
            raise ValueError(
                f"python backend config key 'callable' {path!r} is not of the form "
                "'package.module:function': after ':' comes one public name (letters, "
                "digits and '_', not starting with '_'), for example "
                "'workers.builtin.chemistry:logp'"
            )

    async def run(
        self, records: list[dict[str, Any]], config: dict[str, Any]
    ) -> list[RecordOutcome]:
        function = self._function(config)
        try:
            if inspect.iscoroutinefunction(function):
                results = await function(records)
            else:
                results = await asyncio.to_thread(function, records)
        except Exception as exc:
            raise BackendError("model_error", _describe(exc)) from exc
        return _outcomes(results, len(records))

    async def aclose(self) -> None:
        self._functions.clear()

    def _function(self, config: dict[str, Any]) -> ModelFunction:
        path = config.get("callable")
        if not isinstance(path, str):
            raise BackendError("model_error", "python backend config has no 'callable' string")
        function = self._functions.get(path)
        if function is None:
            try:
                self._policy.check_callable(path)  # before the import runs any of its code
            except BackendNotAllowed as exc:
                raise BackendError("backend_not_allowed", exc.message) from None
            try:
                function = resolve_callable(path)
            except Exception as exc:
                raise BackendError("model_error", f"cannot load {path}: {_describe(exc)}") from exc
            try:
                self._policy.check_defined_in_allowed_module(path, function)
            except BackendNotAllowed as exc:
                raise BackendError("backend_not_allowed", exc.message) from None
            self._functions[path] = function
        return function


def _outcomes(results: object, expected: int) -> list[RecordOutcome]:
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


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
