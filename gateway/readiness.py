"""Readiness: a server's health for its own service name follows its stores.

grpc.health.v1 answers two questions here. The empty service name is liveness:
SERVING while the process runs, so an orchestrator never restarts a server
because a store is down (it recovers by itself when the store is back). The
service's full name (for example `modelgateway.v1.ExecutionService`) is
readiness: NOT_SERVING while a store the service needs does not answer, so a
load balancer sends calls elsewhere meanwhile.

Each probe is one cheap round trip (`SELECT 1`, `PING`) every interval, bounded
by a timeout: a store that hangs counts as down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from grpc_health.v1 import _async as health_async
from grpc_health.v1 import health_pb2

from scheduler.connection import reraise_cancellation

log = logging.getLogger("modelgw.readiness")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class Probe:
    """One store a service needs: its name (for the log) and a call that fails when it is down."""

    store: str
    check: Callable[[], Awaitable[object]]


async def follow_stores(
    health: health_async.HealthServicer,
    services: Sequence[str],
    probes: Sequence[Probe],
    *,
    interval_s: float = 2.0,
    timeout_s: float = 2.0,
) -> None:
    """Sets the health of each of `services` (those one server hosts) from the
    probes, every interval, until cancelled."""
    ready: bool | None = None
    while True:
        answers = await asyncio.gather(*(_down(probe, timeout_s) for probe in probes))
        down = [probe.store for probe in answers if probe is not None]
        if (not down) != ready:
            ready = not down
            for service in services:
                await health.set(service, SERVING if ready else NOT_SERVING)
            if ready:
                log.info("ready", extra={"fields": {"services": list(services)}})
            else:
                log.warning(
                    "not ready", extra={"fields": {"services": list(services), "down": down}}
                )
        await asyncio.sleep(interval_s)


async def _down(probe: Probe, timeout_s: float) -> Probe | None:
    try:
        async with asyncio.timeout(timeout_s):
            await probe.check()
    except Exception:  # any failure of a store's answer means it is not there for us
        reraise_cancellation()
        return probe
    return None
