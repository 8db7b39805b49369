"""`modelgw scheduler`: the background duties of the job protocol.

- expiry: job records, results and idempotency keys expire by Redis TTL on
  their own; the job indexes, the finished indexes and the waiting indexes
  (sorted sets) are trimmed here of entries older than the TTL (a job that
  waited that long expired without ever leaving its waiting index);
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

from scheduler import keys, stats
from scheduler.connection import Client
from scheduler.queue import QueueSettings

log = logging.getLogger("modelgw.scheduler")

STALE_CONSUMER_MS = 3600 * 1000


async def run_duties(
    client: Client, settings: QueueSettings, stop: asyncio.Event, interval_s: float = 30.0
) -> None:
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
    consumers = 0
    for model in sorted(str(m) for m in await client.smembers(keys.KNOWN_MODELS)):
        trimmed += int(await client.zremrangebyscore(keys.model_jobs(model), "-inf", horizon))
        trimmed += int(await client.zremrangebyscore(keys.waiting(model), "-inf", horizon))
        trimmed += await stats.trim_finished(client, model, horizon)
        consumers += await _remove_stale_consumers(client, model, stale_consumer_ms)
    return {"trimmed": trimmed, "consumers_removed": consumers}


async def _remove_stale_consumers(client: Client, model: str, stale_ms: int) -> int:
    stream = keys.queue(model)
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
