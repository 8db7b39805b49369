"""The scheduler's gauges: queue depth, running jobs and workers busy and idle,
per model, set from Redis every few seconds for Prometheus to scrape."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from scheduler import metrics, stats
from scheduler.connection import Client

log = logging.getLogger("modelgw.scheduler")


async def refresh_gauges(client: Client, live_ms: int) -> int:
    """One refresh of every model's gauges; returns how many models were seen."""
    models = await stats.known_models(client)
    for model in models:
        now = await stats.model_stats(client, model, window_s=0, live_ms=live_ms)
        metrics.QUEUE_DEPTH.labels(model).set(now.queued)
        metrics.JOBS_RUNNING.labels(model).set(now.running)
        metrics.WORKERS.labels(model, "busy").set(now.busy_workers)
        metrics.WORKERS.labels(model, "idle").set(now.live_workers - now.busy_workers)
    return len(models)


async def run_gauges(
    client: Client, stop: asyncio.Event, *, live_ms: int, interval_s: float = 5.0
) -> None:
    """Sets the queue and worker gauges from the counters every interval until stop."""
    while not stop.is_set():
        try:
            await refresh_gauges(client, live_ms)
        except (RedisError, OSError) as exc:
            log.warning("gauge refresh failed; retrying", extra={"fields": {"error": str(exc)}})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
