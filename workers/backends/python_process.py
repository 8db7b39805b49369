"""One python model process: a child started with the worker's interpreter, its
socket, and the frames of batches it is sent and answers (the pool that keeps
several is workers.backends.python_pool; the child's side, python_child).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass, field

from backendspec.policy import BackendPolicy
from workers.backends import _frames
from workers.backends.base import FAILURE_REASONS, BackendError, RecordOutcome

CHILD_MODULE = "workers.backends.python_child"
STARTUP_TIMEOUT_S = 60.0


@dataclass(eq=False)
class Batch:
    """One batch of one callable, waiting for or in a model process's frame."""

    path: str
    body: bytes
    """The batch's request as JSON, encoded once."""
    records: int
    result: asyncio.Future[list[RecordOutcome]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    alone: bool = False
    """It was unanswered, with others, in a frame whose child died: it runs by itself."""
    seconds: float | None = None
    """How long the model ran it, as its answer says."""


class ModelProcess:
    """One child process and its socket; serve() one frame of batches at a time."""

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
        self.frame: list[Batch] = []
        """The batches this child has been sent and has not answered yet."""
        self.killed = False
        """Killed by the pool (a batch was cancelled), rather than dead by itself."""
        self.frames = 0
        """How many frames this child has been sent."""

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

    async def serve(self, frame: list[Batch]) -> list[Batch]:
        """Runs the frame, settling each batch's result as its answer arrives; returns
        the batches to queue again: those still unanswered when the child died or
        was killed."""
        self.frame = list(frame)
        self.frames += 1
        self._writer.write(_frames.frame(b'{"batches":[%s]}' % b",".join(b.body for b in frame)))
        await self._writer.drain()
        while self.frame:
            batch = self.frame[0]
            try:
                reply = await _frames.read(self._reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return await self._unanswered()
            except _frames.FrameError as exc:
                self.kill()
                self.frame.pop(0)
                sent = f"the model process sent {exc}"
                settle(batch, error=BackendError("invalid_output", sent))
                return self._take_frame()
            self.frame.pop(0)
            batch.seconds = _seconds(reply)
            try:
                outcomes = _parse_reply(reply, batch.records)
            except BackendError as exc:
                settle(batch, error=exc)
            except (TypeError, ValueError, KeyError) as exc:
                self.kill()
                malformed = f"the model process sent a malformed reply: {exc}"
                settle(batch, error=BackendError("invalid_output", malformed))
                return self._take_frame()
            else:
                settle(batch, outcomes=outcomes)
            self.loaded.add(batch.path)
        return []

    async def _unanswered(self) -> list[Batch]:
        if self.killed:
            return self._take_frame()
        reason = await self._exit_reason()
        if len(self.frame) == 1:
            settle(self.frame.pop(), error=BackendError("model_crashed", reason))
            return []
        again = self._take_frame()
        for batch in again:
            batch.alone = True
        return again

    def _take_frame(self) -> list[Batch]:
        left, self.frame = self.frame, []
        return [batch for batch in left if not batch.result.done()]

    async def _exit_reason(self) -> str:
        try:
            code = await asyncio.wait_for(self._process.wait(), timeout=5)
        except TimeoutError:
            self.kill()
            return "the model process closed its connection while running the batch"
        return f"the model process {describe_exit(code)} while running the batch"

    def kill(self) -> None:
        """SIGKILL the child and whatever it started: it leads a process group of its own."""
        self.killed = True
        self._writer.close()
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def wait(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            await self._process.wait()


def settle(
    batch: Batch,
    *,
    outcomes: list[RecordOutcome] | None = None,
    error: BackendError | None = None,
) -> None:
    """Gives the batch's caller its outcomes or its error, unless it gave up waiting."""
    if batch.result.done():  # its caller gave up on it
        return
    if error is not None:
        batch.result.set_exception(error)
    else:
        batch.result.set_result(outcomes or [])


def _seconds(reply: object) -> float | None:
    """How long the model ran, as its process says: trusted only to size the frames of
    the same callable and the pool, where a lie costs its own model alone."""
    seconds = reply.get("seconds") if isinstance(reply, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        return None
    return float(seconds)


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
