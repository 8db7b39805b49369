"""Runs a consensus job: one child job per child model, then the formula per record.

A consensus job waits in its own model's queue like any job, and a worker
with --consensus (the scheduler runs one) takes it. The runner submits one
child job per child, each to its own model's queue, with the child version
the gateway resolved at submission; children run in parallel on their own
workers. Submission uses an idempotency key derived from the parent job, so a
runner that dies and whose job is delivered again finds the same children
instead of starting new ones. The parent records its children's progress, so
WatchJob on the parent shows them. A failed child fails the parent; a
cancelled parent cancels its children.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

from redis.exceptions import RedisError

from consensus.aggregate import combine
from consensus.definition import ConsensusDefinition
from consensus.formula import parse
from scheduler.delivery import Delivery
from scheduler.events import JobEvents, Watch
from scheduler.job import ChildSpec, JobRecord, JobStatus
from scheduler.queue import JobQueue
from workers.backends import BackendError

log = logging.getLogger("modelgw.consensus")

RESYNC_S = 2.0


class ConsensusRunner:
    """Runs consensus jobs for a worker: their children through the queue, then the formula."""

    def __init__(
        self, queue: JobQueue, events: JobEvents, handing_back: Callable[[], bool]
    ) -> None:
        self._queue = queue
        self._events = events
        # Whether the worker is stopping: a job cancelled then is handed back, not ended.
        self._handing_back = handing_back

    async def run(self, delivery: Delivery) -> list[dict[str, Any]]:
        """The parent's per-record results; BackendError when a child fails."""
        definition = ConsensusDefinition.from_config(delivery.spec.config)
        formula = parse(definition.formula)
        children = delivery.spec.children
        child_ids = await self._submit_children(delivery, children)
        try:
            finished = await self._wait(delivery, children, child_ids)
        except asyncio.CancelledError:
            await asyncio.shield(self._end_children(delivery, child_ids))
            raise
        failed = [
            (alias, job) for alias, job in finished.items() if job.status is not JobStatus.SUCCEEDED
        ]
        if failed:
            alias, job = failed[0]
            raise BackendError(
                "model_error",
                f"child {alias} ({job.model} {job.version}) {job.status.value.lower()}: "
                f"{job.error_message or job.error_reason or 'no reason given'}",
            )
        versions = {alias: child.version for alias, child in children.items()}
        fields = {alias: child.output for alias, child in children.items()}
        results = {alias: job.results() for alias, job in finished.items()}
        return combine(definition, formula, results, versions, fields=fields)

    async def _submit_children(
        self, delivery: Delivery, children: Mapping[str, ChildSpec]
    ) -> dict[str, str]:
        records_json = json.dumps(delivery.records, separators=(",", ":"))
        ids = {}
        for alias, child in children.items():
            submission = await self._queue.submit(
                model=child.model,
                version=child.version,
                requested_version=child.version,
                submitter=delivery.submitter,
                records=delivery.records,
                records_json=records_json,
                spec=child.spec,
                idempotency_key=f"consensus/{delivery.job_id}/{alias}",
                parent_id=delivery.job_id,
                # The version was chosen with the parent, under the child's
                # rollout if it had one: the child job records why.
                route=child.route or "pinned",
                rollout_id=child.rollout_id,
            )
            ids[alias] = submission.job_id
        return ids

    async def _wait(
        self,
        delivery: Delivery,
        children: Mapping[str, ChildSpec],
        child_ids: Mapping[str, str],
    ) -> dict[str, JobRecord]:
        async with AsyncExitStack() as stack:
            watches = [
                await stack.enter_async_context(self._events.watch(i)) for i in child_ids.values()
            ]
            latest: dict[str, JobRecord] = {}
            reported = ""
            while True:
                records = await self._queue.get_many(list(child_ids.values()))
                for alias, record in zip(child_ids, records, strict=True):
                    if record is None:
                        raise BackendError(
                            "model_error", f"child {alias}'s job {child_ids[alias]} expired"
                        )
                    latest[alias] = record
                progress = _progress(children, child_ids, latest)
                if progress != reported:
                    await self._queue.record_children(delivery, json.loads(progress))
                    reported = progress
                if all(job.status.terminal for job in latest.values()):
                    return latest
                await _any_news(watches, RESYNC_S)

    async def _end_children(self, delivery: Delivery, child_ids: Mapping[str, str]) -> None:
        """The children of a run that was cancelled: cancelled with it, unless the run
        is handed back by a stopping worker while the parent still runs. Then they
        go on, and the parent's next delivery finds them by their keys."""
        if self._handing_back():
            with contextlib.suppress(RedisError, OSError):
                status = await self._queue.status(delivery.model, delivery.job_id)
                if status is JobStatus.RUNNING:
                    log.info("children kept", extra={"fields": {"job": delivery.job_id}})
                    return
        await self._cancel_children(child_ids)

    async def _cancel_children(self, child_ids: Mapping[str, str]) -> None:
        for alias, job_id in child_ids.items():
            with contextlib.suppress(RedisError, OSError):
                record = await self._queue.get(job_id)
                if record is not None and not record.status.terminal:
                    await self._queue.cancel(record, "its consensus job was cancelled")
                    log.info("cancelled child", extra={"fields": {"alias": alias, "job": job_id}})


def _progress(
    children: Mapping[str, ChildSpec],
    child_ids: Mapping[str, str],
    latest: Mapping[str, JobRecord],
) -> str:
    return json.dumps(
        [
            {
                "alias": alias,
                "model": child.model,
                "version": child.version,
                "route": child.route,
                "job_id": child_ids[alias],
                "status": latest[alias].status.value if alias in latest else "",
            }
            for alias, child in children.items()
        ]
    )


async def _any_news(watches: list[Watch], timeout_s: float) -> None:
    """Returns when any child changed (or after timeout_s, to re-read anyway)."""
    getters = [asyncio.create_task(_news_of(w, timeout_s)) for w in watches]
    try:
        await asyncio.wait(getters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for getter in getters:
            getter.cancel()


async def _news_of(watch: Watch, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await watch.next(timeout_s)
