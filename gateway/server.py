"""One gateway server process: a grpc.aio server hosting one of the services.

Start-up opens the database pool, applies migrations and loads the access
policy once, so that no call pays for them. Shutdown on SIGTERM or SIGINT:
health turns NOT_SERVING, new calls are refused, calls in flight get the
grace period to finish, then everything closes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import grpc
from grpc_health.v1 import _async as health_async
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from authz.enforcer import AccessPolicy
from gateway.access_rules import RULES
from gateway.admin.service import AdminDeps, AdminService
from gateway.authn import TokenVerifier
from gateway.config import GatewayConfig
from gateway.execution.resolution_cache import ResolutionCache
from gateway.execution.service import ExecutionLimits, ExecutionService
from gateway.interceptor import GatewayInterceptor, GuardedServer
from gateway.metrics import serving_metrics
from gateway.readiness import Probe, follow_stores
from gateway.recycling import READY, ParentLine, ask_for_replacement_when_grown
from gateway.registry import store as registry_store
from gateway.registry.database import migrate, open_pool
from gateway.registry.service import RegistryService
from gateway.rollouts.controller import RolloutController
from gateway.rollouts.service import RolloutService
from mesh.signals import stop_on_signals
from modelgateway.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    execution_pb2,
    execution_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    rollout_pb2,
    rollout_pb2_grpc,
)
from scheduler.connection import connect, connect_node
from scheduler.events import JobEvents
from scheduler.queue import JobQueue

log = logging.getLogger("modelgw.server")

# Adds a service's servicer to the server and holds what it needs (Redis
# clients, background tasks) until the server has stopped.
Mount = Callable[[grpc.aio.Server, "Resources"], AbstractAsyncContextManager[None]]


class Resources:
    """What the servicers share, opened once per process."""

    def __init__(self, config: GatewayConfig, pool: asyncpg.Pool, access: AccessPolicy) -> None:
        self.config = config
        self.pool = pool
        self.access = access
        # The stores the service needs, whose answers make it ready (readiness.py);
        # each mount adds its own.
        self.probes: list[Probe] = [Probe("postgresql", lambda: pool.fetchval("SELECT 1"))]


@asynccontextmanager
async def _mount_registry(server: grpc.aio.Server, res: Resources) -> AsyncIterator[None]:
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(
        RegistryService(
            res.pool,
            res.access,
            acquire_timeout_s=res.config.database_timeout_s,
            backends=res.config.backends,
            model_limits=res.config.model_limits,
        ),
        server,
    )
    yield


@asynccontextmanager
async def _mount_execution(server: grpc.aio.Server, res: Resources) -> AsyncIterator[None]:
    config = res.config
    client = connect(config.redis)
    res.probes.append(Probe("redis", client.ping))
    queue = JobQueue(client, config.queue)
    events = JobEvents(lambda: connect_node(config.redis), queue.get)
    await events.start()
    try:
        resolutions = ResolutionCache(
            res.pool,
            resolution_ttl_s=config.resolution_cache_s,
            acquire_timeout_s=config.database_timeout_s,
            model_limits=config.model_limits,
        )
        # On the process's one LISTEN connection; without it the TTL alone bounds staleness.
        await res.access.subscribe(registry_store.CHANNEL, resolutions.subscription())
        limits = ExecutionLimits(
            config.max_records,
            config.watch_heartbeat_s,
            config.user_rates,
            config.no_worker_warning_s,
            config.queue_place_fresh_s,
            config.finished_reply_fresh_s,
        )
        execution_pb2_grpc.add_ExecutionServiceServicer_to_server(
            ExecutionService(queue, events, resolutions, res.access, limits), server
        )
        yield
    finally:
        await events.stop()
        await queue.close()
        await client.aclose()


@asynccontextmanager
async def _mount_admin(server: grpc.aio.Server, res: Resources) -> AsyncIterator[None]:
    config = res.config
    client = connect(config.redis, max_connections=32)
    res.probes.append(Probe("redis", client.ping))
    try:
        deps = AdminDeps(
            pool=res.pool,
            access=res.access,
            redis=client,
            config=config.admin,
            backends=config.backends,
            job_ttl_s=config.queue.job_ttl_s,
            acquire_timeout_s=config.database_timeout_s,
        )
        admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminService(deps), server)
        rollout_pb2_grpc.add_RolloutServiceServicer_to_server(
            RolloutService(res.pool, client, acquire_timeout_s=config.database_timeout_s), server
        )
        # The admin server has the registry's pool and Redis both, which a rollout's
        # decisions need; SKIP LOCKED lets its replicas share the work.
        controller = RolloutController(
            res.pool,
            client,
            tick_s=config.admin.rollout_tick_s,
            acquire_timeout_s=config.database_timeout_s,
        )
        controller.start()
        try:
            yield
        finally:
            await controller.stop()
    finally:
        await client.aclose()


SERVICES: dict[str, tuple[str, Mount]] = {
    "registry": (
        registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
        _mount_registry,
    ),
    "execution": (
        execution_pb2.DESCRIPTOR.services_by_name["ExecutionService"].full_name,
        _mount_execution,
    ),
    "admin": (admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name, _mount_admin),
}
"""Each server's name, the full name of its service (what its readiness probe asks
for) and its mount."""

ALSO_HOSTED: dict[str, tuple[str, ...]] = {
    "admin": (rollout_pb2.DESCRIPTOR.services_by_name["RolloutService"].full_name,),
}
"""Services a server hosts beside its own: reflected, and ready when it is."""


def hosted(name: str) -> tuple[str, ...]:
    """Every service the named server hosts, its own first."""
    return (SERVICES[name][0], *ALSO_HOSTED.get(name, ()))


def server_options(config: GatewayConfig) -> list[tuple[str, Any]]:
    """Channel arguments sized for many thousands of concurrent calls."""
    return [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        # The default cancels a burst of ~1,500 new calls (see shared NOTES).
        ("grpc.server.max_pending_requests", config.max_pending_requests),
        # A call the server has not yet picked up is cancelled after this long
        # (grpc's default: 30 s). A burst of 100,000 new streams takes a process
        # longer than that to pick up, and the default cancelled three quarters of
        # them; callers' deadlines still bound the wait.
        ("grpc.server_max_unrequested_time_in_server", config.max_unrequested_s),
        ("grpc.max_concurrent_streams", 1_000_000),
        # Let proxies (Envoy) and clients ping idle connections without a GOAWAY.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ("grpc.http2.max_ping_strikes", 0),
        # A second server on a taken port must fail, not silently share it; only
        # the children of gateway.prefork share theirs, their parent having
        # checked that nothing else listens there.
        ("grpc.so_reuseport", 0 if config.prefork_child is None else 1),
    ]


async def serve(name: str, config: GatewayConfig, *, ready: asyncio.Event | None = None) -> None:
    """Runs the named server until SIGTERM/SIGINT (or until the task is cancelled)."""
    full_name, mount = SERVICES[name]
    pool = await open_pool(
        config.database_url,
        min_size=config.database_pool_min,
        max_size=config.database_pool_max,
        timeout_s=config.database_timeout_s,
    )
    try:
        await migrate(pool)
        access = await AccessPolicy.open(pool)
        try:
            await _run(name, full_name, mount, Resources(config, pool, access), ready)
        finally:
            await access.close()
    finally:
        await pool.close()


async def _run(
    name: str, full_name: str, mount: Mount, res: Resources, ready: asyncio.Event | None
) -> None:
    config = res.config
    guard = GatewayInterceptor(TokenVerifier(config.auth), res.access, RULES)
    server = GuardedServer(
        grpc.aio.server(
            options=server_options(config), maximum_concurrent_rpcs=config.max_concurrent_rpcs
        ),
        guard,
    )
    with serving_metrics(config.host, config.metrics_ports[name]):
        async with mount(server, res):
            await _serve_until_signalled(server, name, full_name, res, ready, guard)


def _tune_gc() -> None:
    """Keeps Python's cyclic collector off the hot path of a busy server.

    Everything allocated at start-up (modules, pools, descriptors) is moved to a
    permanent generation the collector no longer scans, and the first generation
    is collected every 50,000 allocations instead of 700. With 100,000 streams
    open, the default thresholds ran full collections over millions of live
    objects so often that picking up new calls slowed five-fold.
    """
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(50_000, second, third)


async def _serve_until_signalled(
    server: grpc.aio.Server,
    name: str,
    full_name: str,
    res: Resources,
    ready: asyncio.Event | None,
    guard: GatewayInterceptor,
) -> None:
    config = res.config
    health = health_async.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [
            *hosted(name),
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    address = config.address(name)
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}")
    await server.start()
    _tune_gc()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)  # liveness
    readiness = asyncio.create_task(follow_stores(health, hosted(name), res.probes))
    log.info("serving", extra={"fields": {"service": full_name, "address": address}})
    if ready is not None:
        ready.set()
    background = [readiness]
    if config.prefork_line is not None:
        line = ParentLine(config.prefork_line)
        line.tell(READY)
        if config.recycle_growth_mb:
            growth = config.recycle_growth_mb * 2**20
            background.append(
                asyncio.create_task(ask_for_replacement_when_grown(line, growth, guard))
            )
    try:
        with stop_on_signals() as stop:
            await stop.wait()
            log.info("stopping", extra={"fields": {"grace_s": config.shutdown_grace_s}})
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await health.enter_graceful_shutdown()
        await server.stop(config.shutdown_grace_s)
        log.info("stopped")
