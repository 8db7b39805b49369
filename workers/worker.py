"""The worker: pulls jobs from its models' queues and runs them.

Every version of a model has a queue of its own. A worker serves chosen
versions (`rdkit.logp@1.1.0`) or every version of a model (`rdkit.logp`): then
it reads each version's queue as the version appears (its first submission
adds it to keys.versions), and the model's queue of earlier releases too, so
that jobs queued before an upgrade still run. It never reads a queue of a
version it does not serve, so a worker of version A never runs a job of B.
One reader task per queue blocks on it (scheduler.delivery.QueueReader) with a
connection of its own (blocking reads never hold the shared pool).
Jobs run concurrently up to a limit. While a job runs, its worker renews the
lease on the queue entry and watches for cancellation; a worker that dies
stops renewing, and after the lease another worker's reader claims the entry
and runs the job again.
On SIGTERM the worker drains: it stops reading, gives running jobs a grace
period, and hands the rest back so another worker picks them up at once.

Every few seconds (QueueSettings.presence_s) the worker announces the models
and versions whose queues it reads, idle or busy, so that a job waiting for a
version nobody serves says so; one whose reader is failing is not announced,
and a stopping worker withdraws at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

from redis.exceptions import RedisError, ResponseError

from scheduler import keys
from scheduler.connection import (
    Client,
    RedisSettings,
    connect,
    connect_node,
    reraise_cancellation,
)
from scheduler.delivery import Delivery, NewQueues, NoDelivery, QueueEntry
from scheduler.events import JobEvents
from scheduler.job import JobStatus
from scheduler.queue import JobQueue
from scheduler.settings import QueueSettings
from workers.backends import BackendError, Backends, RecordOutcome
from workers.consensus_runner import ConsensusRunner
from workers.settings import WorkerSettings

log = logging.getLogger("modelgw.worker")


class Worker:
    """Runs the jobs of its models: one reader per model queue, at most
    `concurrency` jobs at once, each through its backend (python callables in the
    worker's model processes), with its lease renewed while it runs. run() works
    until its stop event, then drains."""

    def __init__(
        self, redis: RedisSettings, queue_settings: QueueSettings, settings: WorkerSettings
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._client: Client = connect(redis, max_connections=settings.concurrency * 2 + 8)
        self._queue = JobQueue(self._client, queue_settings)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._running: dict[str, tuple[Delivery, asyncio.Task[None]]] = {}
        self._backends = Backends(
            settings.policy, settings.limits, settings.model_processes or settings.concurrency
        )
        self._stopping = asyncio.Event()
        # What it serves: model -> versions, keys.ALL_VERSIONS for all of them.
        self._served: dict[str, set[str]] = {}
        # One reader per queue read: (model, version), version '' for the
        # model's queue of earlier releases.
        self._readers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._failing: set[tuple[str, str]] = set()  # queues whose last read failed
        self._events: JobEvents | None = None
        self._consensus: ConsensusRunner | None = None

    @property
    def name(self) -> str:
        return self._settings.name

    async def run(self, stop: asyncio.Event) -> None:
        """Works until stop is set, then drains."""
        self._backends.warm()
        for model, version in self._settings.served:
            await self._serve(model, version)
        renewer = asyncio.create_task(self._renew_forever())
        presence = asyncio.create_task(self._announce_forever())
        if self._settings.consensus:
            self._events = JobEvents(lambda: connect_node(self._redis), self._queue.get)
            await self._events.start()
            self._consensus = ConsensusRunner(self._queue, self._events, self._stopping.is_set)
        new_queues = NewQueues(lambda: connect_node(self._redis), self._heard_of)
        discovery = [
            asyncio.create_task(self._discover_forever()),
            asyncio.create_task(new_queues.listen()),
        ]
        log.info(
            "working", extra={"fields": {"models": self._settings.models, "worker": self.name}}
        )
        try:
            await stop.wait()
        finally:
            self._stopping.set()
            for task in [*discovery, *self._readers.values(), presence]:
                task.cancel()
            await asyncio.gather(
                *discovery, *self._readers.values(), presence, return_exceptions=True
            )
            with contextlib.suppress(RedisError, OSError):
                await self._queue.leave(self._pairs(), self.name)
            await self._drain()
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            if self._events is not None:
                await self._events.stop()
            await self._backends.aclose()
            await self._queue.close()
            await self._client.aclose()

    async def _serve(self, model: str, version: str) -> None:
        """Serves a version of the model, or (keys.ALL_VERSIONS) all of them."""
        self._served.setdefault(model, set()).add(version)
        if version != keys.ALL_VERSIONS:
            await self._read(model, version)
            return
        await self._read(model, "")
        for known in sorted(await self._queue.versions(model)):
            await self._read(model, known)

    async def _read(self, model: str, version: str) -> None:
        # Checked and set in one step: discovery and NewQueues may both find a queue.
        if (model, version) not in self._readers:
            task = asyncio.create_task(self._read_forever(model, version))
            self._readers[model, version] = task

    def _pairs(self) -> list[tuple[str, str]]:
        return sorted((m, v) for m, versions in self._served.items() for v in versions)

    async def _heard_of(self, model: str, version: str) -> None:
        """A submission made a version's queue: read it now if this worker serves
        every version of the model (a Redis error: NewQueues subscribes again,
        and discovery finds the queue anyway)."""
        if keys.ALL_VERSIONS in self._served.get(model, ()):
            await self._read(model, version)

    async def _discover_forever(self) -> None:
        """Starts reading the queue of each new version of the models it serves
        whole, and (with --consensus) of each consensus model, as they appear."""
        while True:
            try:
                if self._settings.consensus:
                    for model in sorted(await self._queue.consensus_models()):
                        if model not in self._served:
                            await self._serve(model, keys.ALL_VERSIONS)
                            log.info("serving consensus model", extra={"fields": {"model": model}})
                for model, versions in list(self._served.items()):
                    if keys.ALL_VERSIONS in versions:
                        for version in sorted(await self._queue.versions(model)):
                            await self._read(model, version)
            except (RedisError, OSError) as exc:
                reraise_cancellation()
                log.warning("queue discovery failed", extra={"fields": {"error": str(exc)}})
            await asyncio.sleep(self._settings.discovery_s)

    async def _drain(self) -> None:
        if self._running:
            log.info("draining", extra={"fields": {"running": len(self._running)}})
            tasks = [task for _, task in self._running.values()]
            await asyncio.wait(tasks, timeout=self._settings.drain_grace_s)
        for delivery, task in list(self._running.values()):
            task.cancel()
            with contextlib.suppress(RedisError, OSError):
                await self._queue.release(delivery, self.name)
            log.info("handed back", extra={"fields": {"job": delivery.job_id}})
        await asyncio.gather(*(t for _, t in self._running.values()), return_exceptions=True)

    async def _read_forever(self, model: str, version: str) -> None:
        client = connect(self._redis, max_connections=2)
        reader = self._queue.reader(client, model, version, self.name, self._settings.block_ms)
        try:
            with contextlib.suppress(RedisError, OSError):  # else made on its first NOGROUP
                await self._queue.ensure_group(model, version)
            while True:
                free = await self._take_slots()
                try:
                    entries = await reader.read(free)
                except (RedisError, OSError) as exc:
                    self._give_back(free)
                    self._failing.add((model, version))
                    reraise_cancellation()
                    log.warning(
                        "queue read failed; retrying", extra={"fields": {"error": str(exc)}}
                    )
                    await asyncio.sleep(1.0)
                    await self._recreate_group_if_lost(model, version, exc)
                    continue
                self._failing.discard((model, version))
                free -= await self._start_in_order(model, version, entries)
                self._give_back(free)
        finally:
            await client.aclose()

    async def _recreate_group_if_lost(self, model: str, version: str, exc: Exception) -> None:
        """After Redis lost its data (a restart without persistence, a FLUSHALL) the
        queue and its consumer group are gone and every read fails with NOGROUP:
        made again, so the worker serves the jobs submitted from then on without a
        restart. What was queued before the loss is lost with it."""
        if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
            with contextlib.suppress(RedisError, OSError):
                await self._queue.ensure_group(model, version)
                log.warning(
                    "queue was lost; made again",
                    extra={"fields": {"model": model, "version": version}},
                )
            # A stop asked during that call may have been dropped by redis-py.
            reraise_cancellation()

    async def _take_slots(self) -> int:
        await self._slots.acquire()
        taken = 1
        while not self._slots.locked() and taken < self._settings.concurrency:
            await self._slots.acquire()
            taken += 1
        return taken

    def _give_back(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    async def _start_in_order(self, model: str, version: str, entries: list[QueueEntry]) -> int:
        """Starts the entries in queue order, so that jobs of a version start in FIFO
        order; returns how many were launched. The start scripts are issued in
        order in one loop turn, so they leave as one pipeline, which Redis runs
        in order: one round trip for the whole read batch."""
        starts = await asyncio.gather(
            *(
                self._queue.start(model, version, entry.job_id, entry.entry_id, self.name)
                for entry in entries
            ),
            return_exceptions=True,
        )
        launched = 0
        for entry, delivery in zip(entries, starts, strict=True):
            if isinstance(delivery, (RedisError, OSError)):
                # Redis failed again after the client's retries (scheduler.connection):
                # the entry stays pending and is claimed again after its lease.
                log.warning(
                    "could not start job",
                    extra={"fields": {"job": entry.job_id, "error": str(delivery)}},
                )
                continue
            if isinstance(delivery, BaseException):
                raise delivery
            if isinstance(delivery, NoDelivery):
                continue  # cancelled, expired or dead-lettered: nothing to run
            task = asyncio.create_task(self._run(delivery))
            self._running[entry.entry_id] = (delivery, task)
            task.add_done_callback(functools.partial(self._finished, entry.entry_id))
            launched += 1
        return launched

    def _finished(self, entry_id: str, _: asyncio.Task[None]) -> None:
        self._running.pop(entry_id, None)
        self._slots.release()

    async def _run(self, delivery: Delivery) -> None:
        spec = delivery.spec
        runner = asyncio.create_task(self._execute(delivery))
        try:
            outcomes = await self._supervise(delivery, runner, spec.timeout_s)
        except TimeoutError:
            await self._queue.finish(
                delivery,
                JobStatus.FAILED,
                reason="timeout",
                message=f"the model ran longer than its {spec.timeout_s} s timeout",
            )
            return
        except BackendError as exc:
            if exc.retryable:
                # Not acknowledged: delivered again after the lease, up to the limit.
                log.warning(
                    "retryable failure; the job will be delivered again after its lease",
                    extra={"fields": {"job": delivery.job_id, "error": str(exc)}},
                )
                self._running.pop(delivery.entry_id, None)
                return
            await self._queue.finish(
                delivery, JobStatus.FAILED, reason=exc.reason, message=exc.message
            )
            return
        if outcomes is None:
            await self._queue.finish(delivery, JobStatus.CANCELLED)  # only acknowledges
            return
        await self._queue.finish(
            delivery, JobStatus.SUCCEEDED, results=[_result(o) for o in outcomes]
        )

    async def _execute(self, delivery: Delivery) -> list[RecordOutcome]:
        """The job's outcomes; whatever the backend raises becomes a BackendError here,
        inside the task, where a SystemExit cannot yet reach the event loop and end
        the worker. Only this task's own cancellation goes through."""
        try:
            return await self._outcomes_of(delivery)
        except BackendError:
            raise
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise BackendError("model_error", "the model's run was cancelled from within") from None
        except (RedisError, OSError) as exc:
            # Redis or the network (a consensus job's children): delivered again after its lease.
            raise BackendError("backend_unavailable", str(exc), retryable=True) from exc
        except BaseException as exc:
            log.exception("the backend failed", extra={"fields": {"job": delivery.job_id}})
            raise BackendError("model_error", f"{type(exc).__name__}: {exc}") from None

    async def _outcomes_of(self, delivery: Delivery) -> list[RecordOutcome]:
        if not delivery.spec.consensus:
            return await self._backends.run(delivery.spec.to_dict(), delivery.records)
        if self._consensus is None:
            raise BackendError(
                "model_error", "this worker does not run consensus jobs (start it with --consensus)"
            )
        results = await self._consensus.run(delivery)
        return [
            RecordOutcome(error=r["error"]) if "error" in r else RecordOutcome(output=r["output"])
            for r in results
        ]

    async def _supervise(
        self, delivery: Delivery, runner: asyncio.Task[list[RecordOutcome]], timeout_s: float
    ) -> list[RecordOutcome] | None:
        """The runner's outcomes; None if the job was cancelled; TimeoutError past timeout."""
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                done, _ = await asyncio.wait(
                    {runner}, timeout=min(remaining, self._settings.cancel_poll_s)
                )
                if done:
                    return runner.result()
                status = await self._queue.status(delivery.model, delivery.job_id)
                if status is not JobStatus.RUNNING:
                    log.info(
                        "job cancelled while running", extra={"fields": {"job": delivery.job_id}}
                    )
                    return None
        finally:
            if not runner.done():
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)

    async def _announce_forever(self) -> None:
        """Announces the models and versions this worker reads, every presence_s:
        a task of its own, not a step of the read loops, which wait for a free slot
        while the worker is busy (and a busy worker still serves its models)."""
        while True:
            unwell = {
                model
                for (model, version), reader in self._readers.items()
                if reader.done() or (model, version) in self._failing
            }
            serving = [(m, v) for m, v in self._pairs() if m not in unwell]
            try:
                await self._queue.announce(serving, self.name)
            except (RedisError, OSError) as exc:
                log.warning("presence announcement failed", extra={"fields": {"error": str(exc)}})
            await asyncio.sleep(self._queue.settings.presence_s)

    async def _renew_forever(self) -> None:
        interval = self._queue.settings.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            by_queue: dict[tuple[str, str], list[str]] = {}
            for entry_id, (delivery, _) in list(self._running.items()):
                queue = (delivery.model, delivery.queue_version)
                by_queue.setdefault(queue, []).append(entry_id)
            for (model, version), entry_ids in by_queue.items():
                try:
                    await self._queue.renew(model, version, entry_ids, self.name)
                except (RedisError, OSError) as exc:
                    reraise_cancellation()
                    log.warning("lease renewal failed", extra={"fields": {"error": str(exc)}})


def _result(outcome: RecordOutcome) -> dict[str, Any]:
    if outcome.error is not None:
        return {"error": outcome.error}
    return {"output": outcome.output}
