"""A worker's python model processes: batches run out of the worker, one at a time each.

Model code in the worker's own process could end it (SystemExit, os._exit, a
segfault in a native library), and with it every job it ran; each redelivery of
such a job would end another worker. So each batch runs in a child process
(workers.backends.python_child, driven through python_process.ModelProcess),
started with the worker's interpreter and kept for many batches: it imports
each callable once. A child that dies fails
only the batch it ran, at once, with reason model_crashed, and the next batch
gets a new child. A batch cancelled by its worker (its timeout, CancelJob, a
drain) kills its child, since nothing else stops a synchronous model.

A child is sent a *frame* of batches and runs them in order. A frame holds one
batch, or, for a callable that has been fast, as many of its waiting batches as
fit in FRAME_BUDGET_S of its recent run time; the batches a worker starts together
(it starts a whole read of its queue at once) then cross to the child and back
together, and their jobs finish together in one Redis pipeline. Crossing costs
two process wake-ups and a frame each way, which a model answering in
microseconds would otherwise pay per job. The child answers a frame's batches
together, or every FLUSH_AFTER_S while they take longer. When a child dies with
one batch of its frame unanswered, that batch fails with model_crashed; with
several, which one ended it is not known, so each of them runs again in a frame
of its own, and the one that ends a child alone fails.

Children are started while batches wait and none has come free for a while, up
to the pool's size, and kept; a frame prefers an idle child that already
imported its callable.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from collections.abc import Coroutine
from typing import Any

from backendspec.policy import BackendPolicy
from workers.backends import _frames
from workers.backends.base import BackendError, RecordOutcome
from workers.backends.python_process import Batch, ModelProcess, settle

GROW_AFTER_S = 0.05
"""Batches wait this long with no child coming free before the pool starts another."""
FRAME_BUDGET_S = 0.005
"""A frame takes more waiting batches while their estimated run time fits in this."""
MAX_FRAME_BATCHES = 64
SLOW_BATCH_S = 0.005
"""Beyond one per core, the pool grows only for batches that take this long."""
FLUSH_AFTER_S = 0.005
"""A child holds a frame's answers at most this long (see workers.backends.python_child)."""
FRAME_MAX_BYTES = 1 << 20
"""Nor more than this many bytes of records: a large batch goes alone."""


class _RunTimes:
    """Each callable's recent run time per record, as its model processes say: what
    decides how many batches of it share a frame, and whether more processes help. A
    callable not yet seen runs alone."""

    def __init__(self) -> None:
        self._per_record: dict[str, float] = {}

    def estimate(self, batch: Batch) -> float:
        per_record = self._per_record.get(batch.path)
        return float("inf") if per_record is None else per_record * max(1, batch.records)

    def observe(self, batch: Batch, seconds: float) -> None:
        sample = seconds / max(1, batch.records)
        last = self._per_record.get(batch.path)
        self._per_record[batch.path] = sample if last is None else 0.8 * last + 0.2 * sample


class ModelProcessPool:
    """Up to `size` model processes; run() queues a batch until a child takes it.

    While batches wait, the pool starts children up to one per core at once,
    and beyond that only while it is stalled: batches of a callable that takes
    SLOW_BATCH_S or more wait and no child has come free for GROW_AFTER_S (on a
    busy machine fast batches stall too, and more processes only add to it).
    At most `starting_at_once` children start together. Fast batches are then
    served by a few warm children, each freeing up in a millisecond, instead
    of by `size` interpreters started for a burst (each costs a tenth of a
    second of CPU and its memory); slow ones grow the pool a few children
    every GROW_AFTER_S plus a start.
    """

    def __init__(
        self,
        policy: BackendPolicy,
        size: int,
        starting_at_once: int | None = None,
        frame_budget_s: float = FRAME_BUDGET_S,
    ) -> None:
        if size < 1:
            raise ValueError(f"a pool of model processes needs at least one, not {size}")
        self._policy = policy
        self._size = size
        self._starting_at_once = starting_at_once or os.cpu_count() or 1
        self._cores = min(size, os.cpu_count() or 1)
        """Children started as soon as batches wait: one per core runs them in parallel."""
        self.frame_budget_s = frame_budget_s
        """How much estimated run time a frame of several batches may hold."""
        self._idle: list[ModelProcess] = []
        self._busy: set[ModelProcess] = set()
        self._starting = 0
        self._queue: collections.deque[Batch] = collections.deque()
        self._run_times = _RunTimes()
        self._stall_clock = 0.0
        """When the oldest batch now queued began to wait, or a child last came free
        after it: the pool is stalled GROW_AFTER_S after this."""
        self._grow_timer: asyncio.Handle | None = None
        self._dispatch_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def processes(self) -> list[ModelProcess]:
        return [*self._idle, *self._busy]

    def warm(self) -> None:
        """Starts one process per core in the background, so that a worker's first
        batches need not wait for interpreters to start."""
        live = len(self._idle) + len(self._busy) + self._starting
        for _ in range(min(self._cores, self._starting_at_once) - live):
            self._starting += 1
            self._background(self._start())

    async def run(self, path: str, records: list[dict[str, Any]]) -> list[RecordOutcome]:
        """The batch's outcomes; BackendError as the model failed. Cancelling the call
        drops the batch, or kills the child running it."""
        try:
            body = _frames.encode_body({"callable": path, "records": records})
        except (_frames.FrameError, ValueError, TypeError) as exc:
            raise BackendError("model_error", f"the records cannot be sent: {exc}") from None
        if self._closed:
            raise BackendError("backend_unavailable", "the worker is stopping", retryable=True)
        batch = Batch(path, body, len(records))
        batch.result.add_done_callback(lambda _: self._dropped(batch))
        if not self._queue:
            self._stall_clock = time.monotonic()
        self._queue.append(batch)
        if not self._dispatch_scheduled:
            # At the end of this loop turn: the batches a worker starts together share it.
            self._dispatch_scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)
        return await batch.result

    def _dropped(self, batch: Batch) -> None:
        """A batch cancelled in a child's frame: only killing stops a synchronous model
        (the frame's other unanswered batches are queued again)."""
        if batch.result.cancelled():
            for child in self._busy:
                if batch in child.frame:
                    child.kill()

    def _dispatch(self) -> None:
        """Gives queued batches to idle children, then grows the pool if it is stalled."""
        self._dispatch_scheduled = False
        for child in [c for c in self._idle if not c.alive]:  # died while idle
            self._idle.remove(child)
            self._bury(child)
        while self._idle:
            frame = self._next_frame()
            if not frame:
                break
            wanted = frame[0].path
            child = next((c for c in reversed(self._idle) if wanted in c.loaded), self._idle[-1])
            self._idle.remove(child)
            self._busy.add(child)
            self._background(self._serve(child, frame))
        self._grow()

    def _next_frame(self) -> list[Batch]:
        """The oldest waiting batch and, while they fit the budget, the next ones of its
        callable: a frame holds one model's batches, so that one model being slow for
        once holds up none of another's."""
        while self._queue and self._queue[0].result.done():  # cancelled while it waited
            self._queue.popleft()
        if not self._queue:
            return []
        head = self._queue.popleft()
        frame = [head]
        if head.alone:
            return frame
        seconds = self.frame_budget_s - self._run_times.estimate(head)
        size = FRAME_MAX_BYTES - len(head.body)
        for batch in list(self._queue):
            if len(frame) == MAX_FRAME_BATCHES:
                break
            if batch.path != head.path or batch.alone or batch.result.done():
                continue
            cost = self._run_times.estimate(batch)
            if cost > seconds or len(batch.body) > size:
                break
            self._queue.remove(batch)
            frame.append(batch)
            seconds -= cost
            size -= len(batch.body)
        return frame

    async def _serve(self, child: ModelProcess, frame: list[Batch]) -> None:
        try:
            unstarted = await child.serve(frame)
        except (OSError, RuntimeError, _frames.FrameError) as exc:  # not written
            child.kill()
            failed = BackendError("model_crashed", f"the model process took no batch: {exc}")
            for batch in frame:
                settle(batch, error=failed)
        else:
            for batch in frame:
                if batch.seconds is not None:
                    self._run_times.observe(batch, batch.seconds)
            self._queue.extendleft(reversed(unstarted))
        finally:
            self._busy.discard(child)
        if child.alive and not self._closed:
            self._stall_clock = time.monotonic()
            self._idle.append(child)
        else:
            self._bury(child)
        self._dispatch()

    def _grow(self) -> None:
        """Starts children while the pool is stalled, within the size and the starts at
        once; otherwise looks again when it would be."""
        live = len(self._idle) + len(self._busy) + self._starting
        wanted = sum(1 for b in self._queue if not b.result.done()) - self._starting
        if wanted <= 0 or live >= self._size or self._closed:
            return
        stalled_in = self._stall_clock + GROW_AFTER_S - time.monotonic()
        if live >= self._cores and not self._slow_batches_wait():
            return  # more processes than cores make fast batches no faster
        if live >= self._cores and stalled_in > 0:
            if self._grow_timer is None:
                self._grow_timer = asyncio.get_running_loop().call_later(
                    stalled_in, self._grow_when_timed
                )
            return
        while wanted > 0 and live < self._size and self._starting < self._starting_at_once:
            self._starting += 1
            live += 1
            wanted -= 1
            self._background(self._start())

    def _slow_batches_wait(self) -> bool:
        """Whether a waiting batch is of a callable whose batches take SLOW_BATCH_S or
        more (or is not known yet): the stalls more processes can end."""
        return any(
            self._run_times.estimate(batch) >= SLOW_BATCH_S
            for batch in self._queue
            if not batch.result.done()
        )

    def _grow_when_timed(self) -> None:
        # One loop turn more: answers that arrived while this worker waited for the CPU
        # are read before the timer's turn ends, and a child they free is no stall.
        self._grow_timer = asyncio.get_running_loop().call_soon(self._grow_when_due)

    def _grow_when_due(self) -> None:
        self._grow_timer = None
        self._grow()

    async def _start(self) -> None:
        try:
            child = await ModelProcess.start(self._policy)
        except Exception as exc:
            self._starting -= 1
            self._fail_oldest(exc)
            self._grow()
            return
        self._starting -= 1
        if self._closed:
            self._bury(child)
            return
        self._stall_clock = time.monotonic()
        self._idle.append(child)
        self._dispatch()

    def _fail_oldest(self, exc: Exception) -> None:
        while self._queue:
            batch = self._queue.popleft()
            if not batch.result.done():
                message = f"cannot start a python model process: {exc}"
                settle(batch, error=BackendError("backend_unavailable", message, retryable=True))
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
        """Stops every child (a running batch fails, a queued one too); safe to call twice."""
        self._closed = True
        if self._grow_timer is not None:
            self._grow_timer.cancel()
            self._grow_timer = None
        while self._queue:
            settle(
                self._queue.popleft(),
                error=BackendError("backend_unavailable", "the worker is stopping", retryable=True),
            )
        children, self._idle = [*self._idle, *self._busy], []
        for child in children:
            child.kill()
        await asyncio.gather(*(c.wait() for c in children), *self._tasks, return_exceptions=True)
        for child in [*self._idle, *self._busy]:  # started while closing
            child.kill()
            await child.wait()
