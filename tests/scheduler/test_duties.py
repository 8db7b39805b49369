"""The scheduler's duties against a real Redis."""

from __future__ import annotations

import time

from scheduler import keys
from scheduler.connection import RedisSettings, connect
from scheduler.duties import run_once
from scheduler.settings import QueueSettings


async def test_expired_index_entries_are_trimmed(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    try:
        now = time.time()
        await client.sadd(keys.KNOWN_MODELS, "m1")
        await client.zadd(keys.ALL_JOBS, {"old": now - 7200, "new": now})
        await client.zadd(keys.model_jobs("m1"), {"old": now - 7200, "new": now})
        counts = await run_once(client, QueueSettings(job_ttl_s=3600))
        assert counts["trimmed"] == 2
        assert await client.zrange(keys.ALL_JOBS, 0, -1) == ["new"]
        assert await client.zrange(keys.model_jobs("m1"), 0, -1) == ["new"]
    finally:
        await client.aclose()


async def test_idle_empty_consumers_are_removed(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    try:
        await client.sadd(keys.KNOWN_MODELS, "m2")
        await client.xgroup_create(keys.queue("m2"), keys.GROUP, id="0", mkstream=True)
        await client.xgroup_createconsumer(keys.queue("m2"), keys.GROUP, "gone-worker")
        assert (await run_once(client, QueueSettings()))["consumers_removed"] == 0  # not idle for an hour yet
        assert (await run_once(client, QueueSettings(), stale_consumer_ms=-1))["consumers_removed"] == 1
        assert await client.xinfo_consumers(keys.queue("m2"), keys.GROUP) == []
    finally:
        await client.aclose()
