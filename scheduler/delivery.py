"""The worker's side of a version's queue: reading and claiming its entries, and
what starting one gives (a Delivery to run, or why there is nothing to run).

A worker reads each version's queue through the consumer group keys.GROUP. An
entry stays pending, leased to the worker that read it, until the job
finishes; a worker that stops renewing its entries (it died) loses them once
they have been idle for the lease, and the next reader claims them
(XAUTOCLAIM) before reading new ones (XREADGROUP, blocking).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from scheduler import keys
from scheduler.connection import Client, reraise_cancellation
from scheduler.job import JobSpec

log = logging.getLogger("modelgw.worker")


@dataclass(frozen=True)
class Delivery:
    """A job handed to a worker: what to run."""

    job_id: str
    entry_id: str
    model: str
    spec: JobSpec
    records: list[dict[str, Any]]
    created: float
    submitter: str
    queue_version: str = ""
    """The version whose queue it came from ('': the model's queue of earlier releases)."""


class NoDelivery(enum.Enum):
    """Why starting a queue entry gave nothing to run (the entry is acknowledged)."""

    EXPIRED = "EXPIRED"
    """The job's record expired while it waited."""
    DEAD_LETTER = "DEAD_LETTER"
    """Delivered too often without finishing: failed now, never retried."""
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    """The job had already ended (cancelled while it waited, most often)."""


@dataclass(frozen=True)
class QueueEntry:
    """An entry of a model's queue, read or claimed by a worker."""

    entry_id: str
    job_id: str


class QueueReader:
    """One worker's reader of one version's queue, on a client of its own (a
    blocking read must not hold a connection of the shared pool). Each read
    first claims entries whose lease expired, at most every half lease, and
    only if there were none, blocks for new ones."""

    def __init__(
        self,
        client: Client,
        model: str,
        version: str,
        worker: str,
        *,
        lease_ms: int,
        block_ms: int,
    ) -> None:
        self._client = client
        self._stream = keys.queue(model, version)
        self._worker = worker
        self._lease_ms = lease_ms
        self._block_ms = block_ms
        self._next_claim = 0.0

    async def read(self, count: int) -> list[QueueEntry]:
        """Up to count entries, claimed or new; empty after block_ms without any.
        Redis errors propagate: the caller decides whether to retry."""
        entries: list[Any] = []
        if time.monotonic() >= self._next_claim:
            # Entries whose worker stopped renewing them: take them over.
            _, entries, _ = await self._client.xautoclaim(
                self._stream, keys.GROUP, self._worker, self._lease_ms, "0-0", count=count
            )
            self._next_claim = time.monotonic() + self._lease_ms / 2000
        if not entries:
            reply: Any = await self._client.xreadgroup(
                keys.GROUP, self._worker, {self._stream: ">"}, count=count, block=self._block_ms
            )
            entries = reply[0][1] if reply else []
        return [QueueEntry(str(entry_id), values.get("job", "")) for entry_id, values in entries]


class NewQueues:
    """Hears of each version queue a submission creates (keys.QUEUES_CHANNEL) and
    hands (model, version) to `on_queue`, subscribing again whenever the
    subscription is lost. Pub/sub is at most once: a worker still discovers
    versions from keys.versions every few seconds; this only makes the first job
    of a new version start at once instead of at the next discovery."""

    def __init__(
        self,
        connect: Callable[[], Client],
        on_queue: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self._connect = connect
        self._on_queue = on_queue

    async def listen(self) -> None:
        """Runs until cancelled."""
        delay = 0.1
        while True:
            client = self._connect()
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(keys.QUEUES_CHANNEL)
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            model, _, version = str(message["data"]).rpartition("@")
                            await self._on_queue(model, version)
            except (RedisError, OSError) as exc:
                reraise_cancellation()
                log.warning(
                    "new-queue subscription lost; reconnecting",
                    extra={"fields": {"error": str(exc)}},
                )
            finally:
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
