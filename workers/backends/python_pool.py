"""A worker's python model processes: each runs one batch at a time, out of the worker.

Model code in the worker's own process could end it (SystemExit, os._exit, a
segfault in a native library), and with it every job it ran; each redelivery of
such a job would end another worker. So each batch runs in a child process
(workers.backends.python_child), started with the worker's interpreter and
kept for many batches: it imports each callable once. A child that dies fails
only the batch it ran, at once, with reason model_crashed, and the next batch
gets a new child. A batch cancelled by its worker (its timeout, CancelJob, a
drain) kills its child, since nothing else stops a synchronous model.

Children are started while batches wait for one, up to the pool's size, and
kept; a batch prefers an idle child that already imported its callable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

from workers.backends import _frames
from workers.backends.base import FAILURE_REASONS, BackendError, RecordOutcome
from workers.backends.policy import BackendPolicy

CHILD_MODULE = "workers.backends.python_child"
STARTUP_TIMEOUT_S = 60.0
GROW_AFTER_S = 0.05
"""A batch waits this long for a busy child before the pool starts another."""


class ModelProcess:
    """One child process and its socket; run() one batch at a time."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._process = process
        self._reader = reader
        self._writer = writer
        self.loaded: set[str] = set()
        """The callables this child has imported."""

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.returncode is None and not self._writer.is_closing()

    @classmethod
    async def start(cls, policy: BackendPolicy) -> ModelProcess:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                CHILD_MODULE,
                "--fd",
                str(theirs.fileno()),
                "--allow-callables",
                ",".join(policy.callables),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=2,  # a model's prints join the worker's log (its stderr)
                env=child_env(os.environ),
                # A group of its own: a terminal's Ctrl-C goes to the worker alone, and
                # kill() takes down what the model started too.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        child = cls(process, reader, writer)
        try:
            # Ready: its interpreter is up and imports work.
            hello = await asyncio.wait_for(_frames.read(reader), timeout=STARTUP_TIMEOUT_S)
        except Exception as exc:
            child.kill()
            await child.wait()
            raise OSError(
                f"the model process {describe_exit(process.returncode or 0)} before it was "
                f"ready ({type(exc).__name__})"
            ) from None
        except BaseException:
            child.kill()
            raise
        if not isinstance(hello, dict) or hello.get("ready") != process.pid:
            child.kill()
            raise OSError(f"the model process said {hello!r}, not that it was ready")
        return child

    async def run(self, path: str, records: list[dict[str, Any]]) -> list[RecordOutcome]:
        """The batch's outcomes; BackendError as the model failed; the child is killed
        when the batch is cancelled or the child sends what it must not."""
        try:
            request = _frames.encode({"callable": path, "records": records})
        except (_frames.FrameError, ValueError, TypeError) as exc:
            raise BackendError("model_error", f"the records cannot be sent: {exc}") from None
        try:
            self._writer.write(request)
            await self._writer.drain()
            reply = await _frames.read(self._reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise BackendError("model_crashed", await self._exit_reason()) from exc
        except _frames.FrameError as exc:
            self.kill()
            raise BackendError("invalid_output", f"the model process sent {exc}") from None
        except BaseException:
            self.kill()  # cancelled mid-batch: only killing stops a synchronous model
            raise
        self.loaded.add(path)
        return self._outcomes(reply, len(records))

    def _outcomes(self, reply: object, expected: int) -> list[RecordOutcome]:
        try:
            return _parse_reply(reply, expected)
        except BackendError:
            raise
        except (TypeError, ValueError, KeyError) as exc:
            self.kill()
            raise BackendError(
                "invalid_output", f"the model process sent a malformed reply: {exc}"
            ) from None

    async def _exit_reason(self) -> str:
        try:
            code = await asyncio.wait_for(self._process.wait(), timeout=5)
        except TimeoutError:
            self.kill()
            return "the model process closed its connection while running the batch"
        return f"the model process {describe_exit(code)} while running the batch"

    def kill(self) -> None:
        """SIGKILL the child and whatever it started: it leads a process group of its own."""
        self._writer.close()
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def wait(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            await self._process.wait()


def _parse_reply(reply: object, expected: int) -> list[RecordOutcome]:
    """The outcomes a child's reply carries, checked: the child runs owners' code."""
    if not isinstance(reply, dict):
        raise TypeError(f"a {type(reply).__name__}")
    if "failure" in reply:
        reason, message = reply["failure"]["reason"], reply["failure"]["message"]
        if reason not in FAILURE_REASONS or not isinstance(message, str):
            raise ValueError(f"failure {reason!r}")
        raise BackendError(reason, message)
    items = reply["outcomes"]
    if not isinstance(items, list) or len(items) != expected:
        raise ValueError(f"outcomes for {expected} records expected")
    outcomes: list[RecordOutcome] = []
    for item in items:
        if not isinstance(item, dict):
            raise TypeError(f"outcome {len(outcomes)} is a {type(item).__name__}")
        output, error = item.get("output"), item.get("error")
        if not (isinstance(output, dict) or isinstance(error, str)) or len(item) != 1:
            raise ValueError(f"outcome {len(outcomes)} is neither an output nor an error")
        outcomes.append(RecordOutcome(output=output, error=error))
    return outcomes


def describe_exit(code: int) -> str:
    """How a child ended, from its return code: 'exited with code 7', 'was killed by
    signal SIGSEGV (11)'."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = "an unknown signal"
    return f"was killed by signal {name} ({-code})"


def child_env(env: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The worker's environment without its MODELGW_* settings (the Redis URL among
    them): model code needs none of them."""
    return {name: value for name, value in env.items() if not name.startswith("MODELGW_")}


class ModelProcessPool:
    """Up to `size` model processes; run() waits for a free one when all are busy.

    The pool grows only while batches wait (for GROW_AFTER_S when children are
    busy): a waiting batch takes whichever comes first, a child another batch
    gives back or one just started, and at most `starting_at_once` children
    start together. A burst of fast batches is then
    served by a few warm children instead of waiting for `size` interpreters to
    start at once.
    """

    def __init__(
        self, policy: BackendPolicy, size: int, starting_at_once: int | None = None
    ) -> None:
        if size < 1:
            raise ValueError(f"a pool of model processes needs at least one, not {size}")
        self._policy = policy
        self._size = size
        self._starting_at_once = starting_at_once or os.cpu_count() or 1
        self._idle: list[ModelProcess] = []
        self._busy: set[ModelProcess] = set()
        self._starting = 0
        self._waiters: list[asyncio.Future[ModelProcess]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def processes(self) -> list[ModelProcess]:
        return [*self._idle, *self._busy]

    async def run(self, path: str, records: list[dict[str, Any]]) -> list[RecordOutcome]:
        child = await self._take(path)
        try:
            return await child.run(path, records)
        finally:
            self._busy.discard(child)
            if child.alive:
                self._give(child)
            else:
                self._bury(child)
                self._grow()

    async def _take(self, path: str) -> ModelProcess:
        self._idle = [child for child in self._idle if child.alive]
        if self._idle:
            child = next((c for c in reversed(self._idle) if path in c.loaded), self._idle[-1])
            self._idle.remove(child)
            self._busy.add(child)
            return child
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[ModelProcess] = loop.create_future()
        self._waiters.append(waiter)
        if self._busy:
            # A busy child usually frees up sooner than a new one starts (fast models
            # answer in a millisecond, an interpreter takes a fifth of a second of CPU).
            loop.call_later(GROW_AFTER_S, self._grow)
        else:
            self._grow()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                child = waiter.result()  # handed over just as the batch was cancelled
                self._busy.discard(child)
                self._give(child)
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _give(self, child: ModelProcess) -> None:
        """A free child goes to the longest-waiting batch, else joins the idle ones."""
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                self._busy.add(child)
                waiter.set_result(child)
                return
        if self._closed:
            self._bury(child)
        else:
            self._idle.append(child)

    def _grow(self) -> None:
        """Starts children while batches wait, within the size and the starts at once."""
        live = len(self._idle) + len(self._busy) + self._starting
        wanted = sum(1 for w in self._waiters if not w.done()) - self._starting
        while (
            wanted > 0
            and live < self._size
            and self._starting < self._starting_at_once
            and not self._closed
        ):
            self._starting += 1
            live += 1
            wanted -= 1
            self._background(self._start())

    async def _start(self) -> None:
        try:
            child = await ModelProcess.start(self._policy)
        except Exception as exc:
            self._starting -= 1
            self._fail_one_waiter(exc)
            self._grow()
            return
        self._starting -= 1
        self._give(child)
        self._grow()

    def _fail_one_waiter(self, exc: Exception) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_exception(
                    BackendError(
                        "backend_unavailable",
                        f"cannot start a python model process: {exc}",
                        retryable=True,
                    )
                )
                return

    def _bury(self, child: ModelProcess) -> None:
        """Kills a child and reaps it in the background, so that no zombie stays."""
        child.kill()
        self._background(child.wait())

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stops every child (a busy one's batch fails); safe to call twice."""
        self._closed = True
        children, self._idle = [*self._idle, *self._busy], []
        self._busy.clear()
        for child in children:
            child.kill()
        await asyncio.gather(*(c.wait() for c in children), *self._tasks, return_exceptions=True)
        for child in [*self._idle, *self._busy]:  # started while closing
            child.kill()
            await child.wait()
