"""AdminService: the registry from the catalog, read-only SQL, and job statistics.

The interceptor has already refused everyone but superusers (Action.ADMIN).
Every change an RPC makes is audited: row changes by the registry's triggers,
and the RPC itself by an admin record, in the same transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import grpc

from audit import outbox
from authz.enforcer import AccessPolicy
from authz.store import CHANNEL as POLICY_CHANNEL
from backendspec import BackendPolicy
from gateway.admin import catalog, query
from gateway.admin.messages import change_message, stats_message
from gateway.admin.sync import Change, Sync
from gateway.config import AdminConfig
from gateway.errors import FailedPrecondition, InvalidArgument
from gateway.interceptor import caller
from gateway.registry import validation
from gateway.registry.database import migrate_in
from gateway.registry.store import CHANNEL as REGISTRY_CHANNEL
from modelgateway.v1 import admin_pb2, admin_pb2_grpc
from scheduler import stats
from scheduler.connection import Client

RESET_CONFIRMATION = "RESET"
DEFAULT_WINDOW_S = 3600
DEFAULT_INTERVAL_S = 5
DEFAULT_MAX_ROWS = 1000
# Serialises catalog syncs and resets across every admin server.
_SYNC_LOCK_KEY = 0x6D6F64656C6763  # "modelgc"


@dataclass(frozen=True)
class AdminDeps:
    """What the admin service needs: the registry's pool and access rules, Redis, its settings."""

    pool: asyncpg.Pool
    access: AccessPolicy
    redis: Client
    config: AdminConfig
    # The catalog's versions are checked against the allow-list as CreateModelVersion does.
    backends: BackendPolicy
    job_ttl_s: int
    acquire_timeout_s: float


class AdminService(admin_pb2_grpc.AdminServiceServicer):  # type: ignore[misc]
    """The AdminService RPCs: the registry from the catalog, the SQL console, job statistics."""

    def __init__(self, deps: AdminDeps) -> None:
        self._deps = deps

    async def RefreshModelDatabase(
        self, request: admin_pb2.RefreshModelDatabaseRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.RefreshModelDatabaseResponse:
        """Brings the registry to the catalog (or plans it, on a dry run)."""
        path = self._deps.config.catalog_path
        models = catalog.load(path, self._deps.backends)
        async with self._transaction() as conn:
            sync = Sync(conn, self._deps.access)
            changes = await sync.plan(models, delete_missing=request.delete_missing)
            if not request.dry_run:
                await sync.apply(changes)
                await self._record(conn, "RefreshModelDatabase", None, changes, path)
        if not request.dry_run:
            await self._deps.access.refresh()
        return admin_pb2.RefreshModelDatabaseResponse(
            changes=[change_message(c) for c in changes], dry_run=request.dry_run, catalog=str(path)
        )

    async def ResetModelDatabase(
        self, request: admin_pb2.ResetModelDatabaseRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ResetModelDatabaseResponse:
        """Drops every model and re-seeds the registry from the catalog."""
        if request.confirm != RESET_CONFIRMATION:
            raise InvalidArgument(
                f"confirm must be exactly {RESET_CONFIRMATION!r}: the reset drops every model, "
                "version and grant and re-seeds the registry from the catalog"
            )
        path = self._deps.config.catalog_path
        # A broken catalog must not leave an empty registry: load it before the drop.
        models = catalog.load(path, self._deps.backends)
        async with self._transaction() as conn:
            before = await conn.fetch("SELECT name, default_version FROM models ORDER BY name")
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            await migrate_in(conn)
            sync = Sync(conn, self._deps.access)
            changes = await sync.plan(models, delete_missing=False)
            await sync.apply(changes)
            await self._record(
                conn, "ResetModelDatabase", [dict(r) for r in before], changes, path
            )
            # Dropped rows send no notification of their own: every process reloads
            # its policy and forgets every model it knew (on commit, as for any write).
            await conn.execute("SELECT pg_notify($1, '*')", POLICY_CHANNEL)
            await conn.execute("SELECT pg_notify($1, '*')", REGISTRY_CHANNEL)
        await self._deps.access.refresh()
        return admin_pb2.ResetModelDatabaseResponse(
            models_dropped=len(before),
            changes=[change_message(c) for c in changes],
            catalog=str(path),
        )

    async def QueryModelDatabase(
        self, request: admin_pb2.QueryModelDatabaseRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.QueryModelDatabaseResponse:
        """Runs one read-only SQL statement as the console's own role."""
        config = self._deps.config
        if request.max_rows < 0:
            raise InvalidArgument(f"max_rows {request.max_rows} must not be negative")
        if config.query_database_url is None:
            raise FailedPrecondition(
                "the SQL console is not configured: set MODELGW_QUERY_DATABASE_URL on the "
                "admin server to a DSN of the console's own read-only role, modelgw_query "
                "(made by gateway/registry/bootstrap.sql; `modelgw up` sets both)"
            )
        limits = query.Limits(
            max_rows=min(request.max_rows or DEFAULT_MAX_ROWS, config.query_max_rows),
            max_bytes=config.query_max_bytes,
            timeout_s=config.query_timeout_s,
            connect_timeout_s=self._deps.acquire_timeout_s,
        )
        # Never the gateway's pool: the console logs in as a role of its own.
        result = await query.run_read_only(config.query_database_url, request.sql, limits)
        response = admin_pb2.QueryModelDatabaseResponse(
            columns=result.columns, truncated=result.truncated
        )
        for row in result.rows:
            response.rows.add().extend(row)
        return response

    async def GetJobStats(
        self, request: admin_pb2.GetJobStatsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.GetJobStatsResponse:
        """Job statistics per model and overall, over a time window."""
        window = self._window(request.window_seconds)
        return admin_pb2.GetJobStatsResponse(stats=await self._stats(request.model, window))

    async def WatchJobStats(
        self, request: admin_pb2.WatchJobStatsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[admin_pb2.WatchJobStatsResponse]:
        """Job statistics at every interval until the caller hangs up."""
        window = self._window(request.window_seconds)
        interval = request.interval_seconds or DEFAULT_INTERVAL_S
        if not 1 <= interval <= 3600:
            raise InvalidArgument(f"interval_seconds {interval} is out of range: use 1 to 3600")
        while True:
            started = time.monotonic()
            yield admin_pb2.WatchJobStatsResponse(stats=await self._stats(request.model, window))
            await asyncio.sleep(max(interval - (time.monotonic() - started), 0))

    def _window(self, seconds: int) -> int:
        window = seconds or DEFAULT_WINDOW_S
        if not 1 <= window <= self._deps.job_ttl_s:
            raise InvalidArgument(
                f"window_seconds {seconds} is out of range: use 1 to {self._deps.job_ttl_s} "
                "(the job retention, MODELGW_JOB_TTL), or 0 for 3600"
            )
        return window

    async def _stats(self, model: str, window: int) -> admin_pb2.JobStats:
        redis = self._deps.redis
        if model:
            validation.model_name(model, "model")
        models = [model] if model else await stats.known_models(redis)
        now = time.time()
        live_ms = self._deps.config.worker_live_ms
        per_model = await asyncio.gather(
            *(
                stats.model_stats(redis, m, window_s=window, live_ms=live_ms, now=now)
                for m in models
            )
        )
        return stats_message(per_model, stats.combine(per_model, window), now, window)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction that names its actor and holds the sync lock."""
        pool = self._deps.pool
        async with pool.acquire(timeout=self._deps.acquire_timeout_s) as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SYNC_LOCK_KEY)
            await outbox.set_actor(conn, caller().user)
            yield conn

    async def _record(
        self,
        conn: asyncpg.Connection,
        operation: str,
        before: object,
        changes: list[Change],
        path: object,
    ) -> None:
        after = {"catalog": str(path), "changes": [c.as_dict() for c in changes]}
        await outbox.record_admin(conn, caller().user, operation, before, after)
