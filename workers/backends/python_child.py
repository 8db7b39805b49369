"""A python model process: runs a worker's python callables, one batch at a time.

`python -m workers.backends.python_child --fd N --allow-callables PREFIXES` says
{"ready": pid} on the socket N once its interpreter is up, then serves frames
{"batches": [{"callable", "records"}, ...]} arriving there as JSON. It runs a
frame's batches in order and answers each, in order, with
{"outcomes": [{"output": {...}} | {"error": "..."}], "seconds": s} or
{"failure": {"reason", "message"}, "seconds": s}, s being how long the model
ran (what the worker sizes frames and its pool by); the answers leave
together at the end of the frame, or every FLUSH_AFTER_S while it takes
longer. Each callable is imported once and serves every following batch;
coroutine functions run on one event loop kept for the process's life.

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
import time
from collections.abc import Callable
from typing import Any

from backendspec.policy import BackendNotAllowed, BackendPolicy
from workers.backends import _frames
from workers.backends.base import BackendError, RecordError, RecordOutcome
from workers.backends.python import ModelFunction, describe, outcomes, resolve_callable
from workers.backends.python_pool import FLUSH_AFTER_S
from workers.backends.sandbox import make_undumpable

_PR_SET_PDEATHSIG = 1
_SIGKILL = 9


class _Models:
    """The callables this process has imported, and the loop its coroutines run on."""

    def __init__(self, policy: BackendPolicy) -> None:
        self._policy = policy
        self._functions: dict[str, ModelFunction] = {}
        self._loop = asyncio.new_event_loop()

    def serve_frame(self, batches: list[object], answer: Callable[[bytes], None]) -> None:
        """Answers each batch in order. A frame holds one callable's batches: a coroutine
        function's all run in one turn of the loop (starting the loop costs more than
        an echo model's whole run), a plain function's are called one by one."""
        calls = [self._call_of(batch) for batch in batches]
        if any(isinstance(call, _AsyncCall) for call in calls):
            self._loop.run_until_complete(_answer_all(calls, answer))
            return
        for call in calls:
            answer(call if isinstance(call, bytes) else call.run_sync())

    def _call_of(self, request: object) -> _AsyncCall | _SyncCall | bytes:
        """What to run for one batch, or its answer already (a malformed request)."""
        try:
            if not isinstance(request, dict) or not isinstance(request.get("records"), list):
                raise BackendError("model_error", "a request without a list of records")
            function = self._function(request.get("callable"))
        except BackendError as exc:
            return _failure(exc)
        records: list[dict[str, Any]] = request["records"]
        if inspect.iscoroutinefunction(function):
            return _AsyncCall(function, records)
        return _SyncCall(function, records)

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


class _SyncCall:
    def __init__(self, function: ModelFunction, records: list[dict[str, Any]]) -> None:
        self.function, self.records = function, records

    def run_sync(self) -> bytes:
        began = time.perf_counter()
        try:
            results = self.function(self.records)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: see _crashed
            return _failure(_crashed(exc), time.perf_counter() - began)
        return _outcomes(results, len(self.records), time.perf_counter() - began)


class _AsyncCall(_SyncCall):
    async def run(self) -> bytes:
        began = time.perf_counter()
        try:
            results = await self.function(self.records)
        except BaseException as exc:  # nothing in this process cancels the model's task
            return _failure(_crashed(exc), time.perf_counter() - began)
        return _outcomes(results, len(self.records), time.perf_counter() - began)


async def _answer_all(
    calls: list[_AsyncCall | _SyncCall | bytes], answer: Callable[[bytes], None]
) -> None:
    for call in calls:
        if isinstance(call, bytes):
            answer(call)
        elif isinstance(call, _AsyncCall):
            answer(await call.run())
        else:
            answer(call.run_sync())


def _crashed(exc: BaseException) -> BackendError:
    """An exception is the model failing; SystemExit or KeyboardInterrupt is the model
    trying to end this process."""
    if isinstance(exc, Exception):
        return BackendError("model_error", describe(exc))
    return BackendError("model_crashed", f"the model raised {describe(exc)}")


def _outcomes(results: object, expected: int, seconds: float) -> bytes:
    """The answer's frame for what the model returned, encoded once: the checks of each
    output (a dict, strict JSON) run only when the whole does not encode, to name the
    output at fault."""
    try:
        if not isinstance(results, list | tuple) or len(results) != expected:
            raise TypeError("checked below")
        answers = [
            {"error": str(item) or type(item).__name__}
            if isinstance(item, RecordError)
            else {"output": item}
            for item in results
            if isinstance(item, dict | RecordError)
        ]
        if len(answers) != expected:
            raise TypeError("checked below")
        return _frames.encode({"outcomes": answers, "seconds": seconds})
    except (TypeError, ValueError, _frames.FrameError):
        pass
    try:
        checked = outcomes(results, expected)
        message = {"outcomes": [_outcome_message(o) for o in checked], "seconds": seconds}
    except BackendError as exc:
        return _failure(exc, seconds)
    return _reply(message)


def _outcome_message(outcome: RecordOutcome) -> dict[str, Any]:
    return {"error": outcome.error} if outcome.error is not None else {"output": outcome.output}


def _failure(exc: BackendError, seconds: float | None = None) -> bytes:
    message: dict[str, Any] = {"failure": {"reason": exc.reason, "message": exc.message}}
    if seconds is not None:
        message["seconds"] = seconds
    return _frames.encode(message)


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
            answers = _Answers(sock)
            models.serve_frame(_batches(request), answers.add)
            answers.flush()
    return 0


class _Answers:
    """A frame's answers, sent together, or every FLUSH_AFTER_S while its batches take
    longer (the worker's pool relies on their order)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._held = bytearray()
        self._flushed = time.monotonic()

    def add(self, answer: bytes) -> None:
        self._held += answer
        if time.monotonic() - self._flushed >= FLUSH_AFTER_S:
            self.flush()

    def flush(self) -> None:
        if self._held:
            self._sock.sendall(self._held)
            self._held.clear()
        self._flushed = time.monotonic()


def _batches(request: object) -> list[object]:
    batches = request.get("batches") if isinstance(request, dict) else None
    return batches if isinstance(batches, list) else [request]  # served as a malformed one


def _reply(message: dict[str, Any]) -> bytes:
    try:
        return _frames.encode(message)
    except (_frames.FrameError, ValueError, TypeError) as exc:
        failure = {"reason": "invalid_output", "message": f"the results cannot be sent: {exc}"}
        return _frames.encode({"failure": failure})


if __name__ == "__main__":
    sys.exit(main())
