"""A worker's python model processes: each runs one batch at a time, out of the worker.

Model code in the worker's own process could end it (SystemExit, os._exit, a
segfault in a native library), and with it every job it ran; each redelivery of
such a job would end another worker. So each batch runs in a child process
(workers.backends.python_child), started with the worker's interpreter and
kept for many batches: it imports each callable once. A child that dies fails
only the batch it ran, at once, with reason model_crashed, and the next batch
gets a new child. A batch cancelled by its worker (its timeout, CancelJob, a
drain) kills its child, since nothing else stops a synchronous model.

Children are started when needed, up to the pool's size, and kept; a batch
prefers an idle child that already imported its callable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from typing import Any

from workers.backends import _frames
from workers.backends.base import FAILURE_REASONS, BackendError, RecordOutcome
from workers.backends.policy import BackendPolicy

CHILD_MODULE = "workers.backends.python_child"


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
                stdout=sys.stderr.fileno(),  # a model's prints join the worker's log
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
        return cls(process, reader, writer)

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
    """Up to `size` model processes; run() waits for a free one when all are busy."""

    def __init__(self, policy: BackendPolicy, size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool of model processes needs at least one, not {size}")
        self._policy = policy
        self._size = size
        self._free = asyncio.Semaphore(size)
        self._idle: list[ModelProcess] = []
        self._busy: set[ModelProcess] = set()
        self._dead: set[asyncio.Task[None]] = set()

    @property
    def size(self) -> int:
        return self._size

    @property
    def processes(self) -> list[ModelProcess]:
        return [*self._idle, *self._busy]

    async def run(self, path: str, records: list[dict[str, Any]]) -> list[RecordOutcome]:
        async with self._free:
            child = await self._take(path)
            try:
                return await child.run(path, records)
            finally:
                self._busy.discard(child)
                if child.alive:
                    self._idle.append(child)
                else:
                    self._bury(child)

    async def _take(self, path: str) -> ModelProcess:
        self._idle = [child for child in self._idle if child.alive]
        child = next((c for c in reversed(self._idle) if path in c.loaded), None)
        if child is None and self._idle:
            child = self._idle[-1]
        if child is None:
            child = await ModelProcess.start(self._policy)
        else:
            self._idle.remove(child)
        self._busy.add(child)
        return child

    def _bury(self, child: ModelProcess) -> None:
        """Reaps a killed child in the background, so that no zombie stays."""
        child.kill()
        task = asyncio.create_task(child.wait())
        self._dead.add(task)
        task.add_done_callback(self._dead.discard)

    async def aclose(self) -> None:
        """Stops every child (a busy one's batch fails); safe to call twice."""
        children, self._idle = [*self._idle, *self._busy], []
        self._busy.clear()
        for child in children:
            child.kill()
        await asyncio.gather(*(c.wait() for c in children), *self._dead, return_exceptions=True)
