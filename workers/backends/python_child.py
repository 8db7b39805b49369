"""A python model process: runs a worker's python callables, one batch at a time.

`python -m workers.backends.python_child --fd N --allow-callables PREFIXES` says
{"ready": pid} on the socket N once its interpreter is up, then serves requests
{"callable", "records"} arriving there as JSON frames and answers each with
{"outcomes": [{"output": {...}} | {"error": "..."}]} or {"failure": {"reason",
"message"}}. Each callable is imported once and serves
every following batch; coroutine functions run on one event loop kept for the
process's life.

Whatever the model does, the answer is a frame: an exception is model_error,
and SystemExit or KeyboardInterrupt (a model trying to end its process) is
model_crashed. What no answer can follow (os._exit, a segfault in a native
library) ends this process instead, and the worker replaces it.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import inspect
import os
import socket
import sys
from typing import Any

from workers.backends import _frames
from workers.backends.base import BackendError
from workers.backends.policy import BackendNotAllowed, BackendPolicy
from workers.backends.python import ModelFunction, describe, outcomes, resolve_callable
from workers.backends.sandbox import make_undumpable

_PR_SET_PDEATHSIG = 1
_SIGKILL = 9


class _Models:
    """The callables this process has imported, and the loop its coroutines run on."""

    def __init__(self, policy: BackendPolicy) -> None:
        self._policy = policy
        self._functions: dict[str, ModelFunction] = {}
        self._loop = asyncio.new_event_loop()

    def serve(self, request: object) -> dict[str, Any]:
        try:
            if not isinstance(request, dict) or not isinstance(request.get("records"), list):
                raise BackendError("model_error", "a request without a list of records")
            records: list[dict[str, Any]] = request["records"]
            results = self._call(self._function(request.get("callable")), records)
            return {
                "outcomes": [
                    {"error": o.error} if o.error is not None else {"output": o.output}
                    for o in outcomes(results, len(records))
                ]
            }
        except BackendError as exc:
            return {"failure": {"reason": exc.reason, "message": exc.message}}

    def _function(self, path: object) -> ModelFunction:
        if not isinstance(path, str):
            raise BackendError("model_error", "python backend config has no 'callable' string")
        function = self._functions.get(path)
        if function is None:
            try:
                self._policy.check_callable(path)  # the worker checked too: before importing
                function = resolve_callable(path)
                self._policy.check_defined_in_allowed_module(path, function)
            except BackendNotAllowed as exc:
                raise BackendError("backend_not_allowed", exc.message) from None
            except BaseException as exc:  # an import may run anything, sys.exit included
                raise BackendError("model_error", f"cannot load {path}: {describe(exc)}") from None
            self._functions[path] = function
        return function

    def _call(self, function: ModelFunction, records: list[dict[str, Any]]) -> object:
        try:
            if inspect.iscoroutinefunction(function):
                return self._loop.run_until_complete(_awaited(function, records))
            return function(records)
        except _Raised as raised:
            exc: BaseException = raised.exc
        except BaseException as caught:
            exc = caught
        if isinstance(exc, Exception):
            raise BackendError("model_error", describe(exc))
        raise BackendError("model_crashed", f"the model raised {describe(exc)}")


class _Raised(Exception):
    """Carries what a coroutine raised out of the loop: SystemExit raised in a task
    would otherwise stop the loop itself."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(describe(exc))
        self.exc = exc


async def _awaited(function: ModelFunction, records: list[dict[str, Any]]) -> object:
    try:
        return await function(records)
    except BaseException as exc:  # nothing in this process cancels the model's task
        raise _Raised(exc) from None


def _die_with_parent() -> None:
    """SIGKILL this process when its worker ends, however it ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the worker ended before the prctl
        sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.backends.python_child")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--allow-callables", default="")
    args = parser.parse_args(argv)
    # Before any model code: other models run as this user, and this process holds
    # other jobs' records.
    make_undumpable()
    _die_with_parent()
    models = _Models(BackendPolicy.from_env({}, callables=args.allow_callables))
    with socket.socket(fileno=args.fd) as sock:
        sock.sendall(_frames.encode({"ready": os.getpid()}))
        while (request := _frames.read_blocking(sock)) is not None:
            sock.sendall(_reply(models.serve(request)))
    return 0


def _reply(message: dict[str, Any]) -> bytes:
    try:
        return _frames.encode(message)
    except (_frames.FrameError, ValueError, TypeError) as exc:
        failure = {"reason": "invalid_output", "message": f"the results cannot be sent: {exc}"}
        return _frames.encode({"failure": failure})


if __name__ == "__main__":
    sys.exit(main())
