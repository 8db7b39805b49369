"""`modelgw scheduler`: the background duties of the job protocol.

- expiry: job records, results and idempotency keys expire by Redis TTL on
  their own; the job indexes, the finished indexes and the waiting indexes
  (sorted sets) are trimmed here of entries older than the TTL, and a job
  whose record expired while it waited leaves its model's queue counts (which
  admission limits) as it leaves the waiting index, though no worker ever
  reached it;
- consumer hygiene: consumers of a queue's group that hold nothing and have
  been idle for an hour (workers that scaled down) are removed, so that
  XINFO and KEDA see only live workers.

Lease reaping and retries happen in the workers themselves: a worker claims
entries whose lease expired (XAUTOCLAIM) and the start script counts the
delivery, dead-lettering a job past its delivery limit, so no job waits for
this process to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.exceptions import RedisError

from scheduler import keys, scripts, stats
from scheduler.connection import Client
from scheduler.settings import QueueSettings

log = logging.getLogger("modelgw.scheduler")

STALE_CONSUMER_MS = 3600 * 1000
FORGET_BATCH = 500
"""Waiting jobs per call of the forgetting script: a bounded time inside Redis."""


async def run_duties(
    client: Client, settings: QueueSettings, stop: asyncio.Event, interval_s: float = 30.0
) -> None:
    """The scheduler's duties every interval until stop."""
    while not stop.is_set():
        try:
            await run_once(client, settings)
        except (RedisError, OSError) as exc:
            log.warning("duties failed; retrying", extra={"fields": {"error": str(exc)}})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def run_once(
    client: Client, settings: QueueSettings, *, stale_consumer_ms: int = STALE_CONSUMER_MS
) -> dict[str, int]:
    """One round of duties; returns counts of what it removed."""
    horizon = time.time() - settings.job_ttl_s
    trimmed = int(await client.zremrangebyscore(keys.ALL_JOBS, "-inf", horizon))
    consumers = forgotten = 0
    for model in sorted(str(m) for m in await client.smembers(keys.KNOWN_MODELS)):
        trimmed += int(await client.zremrangebyscore(keys.model_jobs(model), "-inf", horizon))
        trimmed += await stats.trim_finished(client, model, horizon)
        # '': the model's queue of earlier releases, then each version's own.
        for version in ["", *sorted(str(v) for v in await client.smembers(keys.versions(model)))]:
            forgotten += await _forget_expired_waiting(client, model, version, horizon)
            consumers += await _remove_stale_consumers(client, model, version, stale_consumer_ms)
            if version:
                trimmed += int(
                    await client.zremrangebyscore(
                        keys.version_finished(model, version), "-inf", f"({horizon}"
                    )
                )
    return {"trimmed": trimmed, "consumers_removed": consumers, "expired_waiting": forgotten}


async def _forget_expired_waiting(
    client: Client, model: str, version: str, horizon: float
) -> int:
    """Takes the jobs of a version's queue that expired while waiting off its
    waiting index and the queue counts: those that entered it longer ago than the TTL."""
    waiting = keys.waiting(model, version)
    members: list[str] = await client.zrangebyscore(waiting, "-inf", horizon)  # type: ignore[assignment]
    forget = client.register_script(scripts.FORGET_EXPIRED)
    shard = keys.shard_of_model(model)
    forgotten = 0
    for start in range(0, len(members), FORGET_BATCH):
        batch = members[start : start + FORGET_BATCH]
        job_keys = [keys.job(keys.waiting_job(member), shard) for member in batch]
        counts = [keys.counts(model), waiting, keys.version_counts(model, version)]
        script_keys = [*counts, *job_keys]
        forgotten += int(await forget(keys=script_keys, args=batch))
    return forgotten


async def _remove_stale_consumers(client: Client, model: str, version: str, stale_ms: int) -> int:
    stream = keys.queue(model, version)
    try:
        consumers = await client.xinfo_consumers(stream, keys.GROUP)
    except RedisError:
        return 0  # no group yet
    removed = 0
    for consumer in consumers:
        if int(consumer["pending"]) == 0 and int(consumer["idle"]) > stale_ms:
            await client.xgroup_delconsumer(stream, keys.GROUP, consumer["name"])
            removed += 1
    return removed
