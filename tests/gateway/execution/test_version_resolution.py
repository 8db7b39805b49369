"""The execution server's resolution cache against the session's PostgreSQL, with no
notification reaching it and a clock the test moves: MODELGW_RESOLUTION_CACHE
alone bounds how stale an answer can be, and a slow database is not stampeded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.errors import FailedPrecondition, InvalidArgument, NotFound
from gateway.execution.resolution_cache import ResolutionCache
from gateway.registry import store
from gateway.registry.database import init_connection, migrate
from gateway.registry.limits import PlatformLimits

TTL_S = 1.0
# What MODELGW_RESOLUTION_CACHE promises: no answer older than it plus one read
# of the registry, which on this machine takes far less than this allowance.
READ_ALLOWANCE_S = 0.5
NEEDS_N = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
NEEDS_S = {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(
        postgres_dsn, min_size=1, max_size=10, init=init_connection
    ) as pool:
        await migrate(pool)
        yield pool


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def resolutions(pool: asyncpg.Pool, clock: Clock) -> ResolutionCache:
    """A resolutions that hears no NOTIFY: nothing calls its forget."""
    return ResolutionCache(
        pool,
        resolution_ttl_s=TTL_S,
        acquire_timeout_s=5.0,
        model_limits=PlatformLimits(),
        clock=clock,
    )


async def create_model(
    pool: asyncpg.Pool, versions: dict[str, dict[str, Any]], default: str | None = None
) -> str:
    name = f"resolution-{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn, conn.transaction():
        await store.insert_model(conn, name, {"description": "resolution test"})
        for version, schema in versions.items():
            await add_version(conn, name, version, schema)
        await store.set_default_version(conn, name, default)
    return name


async def add_version(
    conn: asyncpg.Connection, name: str, version: str, schema: dict[str, Any]
) -> None:
    config = {"callable": "workers.builtin.demo:echo"}
    await store.insert_version(conn, name, version, "python", config, schema, {}, "")


async def set_default(pool: asyncpg.Pool, name: str, version: str) -> None:
    async with pool.acquire() as conn:
        await store.set_default_version(conn, name, version)


async def test_a_new_default_runs_within_the_ttl_without_notifications(
    pool: asyncpg.Pool, resolutions: ResolutionCache, clock: Clock
) -> None:
    name = await create_model(pool, {"1.0.0": NEEDS_N, "2.0.0": NEEDS_N}, "1.0.0")
    assert (await resolutions.runnable(name, "")).version == "1.0.0"
    await set_default(pool, name, "2.0.0")
    clock.now += TTL_S * 0.9
    assert (await resolutions.runnable(name, "")).version == "1.0.0"  # cached, as documented
    # Past the TTL plus the grace a refresh gets, whatever the refresh did, the new default.
    clock.now += TTL_S * 0.1 + READ_ALLOWANCE_S
    assert (await resolutions.runnable(name, "")).version == "2.0.0"


async def test_forget_takes_effect_at_once(
    pool: asyncpg.Pool, resolutions: ResolutionCache, clock: Clock
) -> None:
    name = await create_model(pool, {"1.0.0": NEEDS_N, "2.0.0": NEEDS_N}, "1.0.0")
    assert (await resolutions.runnable(name, "")).version == "1.0.0"
    await set_default(pool, name, "2.0.0")
    resolutions.forget(name)
    assert (await resolutions.runnable(name, "")).version == "2.0.0"
    await set_default(pool, name, "1.0.0")
    resolutions.forget("*")  # ResetModelDatabase's
    assert (await resolutions.runnable(name, "")).version == "1.0.0"


async def test_a_deleted_and_recreated_version_is_the_new_row_within_the_ttl(
    pool: asyncpg.Pool, resolutions: ResolutionCache, clock: Clock
) -> None:
    name = await create_model(pool, {"1.0.0": NEEDS_N})
    (await resolutions.runnable(name, "1.0.0")).check([{"n": 1}])
    async with pool.acquire() as conn:
        await store.delete_model(conn, name)
    clock.now += TTL_S + READ_ALLOWANCE_S
    with pytest.raises(NotFound):
        await resolutions.runnable(name, "1.0.0")

    async with pool.acquire() as conn, conn.transaction():
        await store.insert_model(conn, name, {"description": "resolution test"})
        await add_version(conn, name, "1.0.0", NEEDS_S)
    for requested in ("1.0.0", ""):
        runnable = await resolutions.runnable(name, requested)
        runnable.check([{"s": "x"}])
        with pytest.raises(InvalidArgument):
            runnable.check([{"n": 1}])


async def test_a_version_created_a_moment_ago_runs_without_waiting(
    pool: asyncpg.Pool, resolutions: ResolutionCache
) -> None:
    name = await create_model(pool, {})
    with pytest.raises(FailedPrecondition):
        await resolutions.runnable(name, "")
    with pytest.raises(NotFound):
        await resolutions.runnable(name, "1.0.0")
    async with pool.acquire() as conn:
        await add_version(conn, name, "1.0.0", NEEDS_N)
    # No notification, and the clock stands still: a "no" is always asked again.
    assert (await resolutions.runnable(name, "")).version == "1.0.0"
    async with pool.acquire() as conn:
        await add_version(conn, name, "2.0.0", NEEDS_N)
    assert (await resolutions.runnable(name, "2.0.0")).version == "2.0.0"


async def test_a_slow_refresh_is_awaited_past_the_bound_and_runs_once(
    pool: asyncpg.Pool, resolutions: ResolutionCache, clock: Clock
) -> None:
    name = await create_model(pool, {"1.0.0": NEEDS_N, "2.0.0": NEEDS_N}, "1.0.0")
    assert (await resolutions.runnable(name, "")).version == "1.0.0"
    await set_default(pool, name, "2.0.0")
    async with pool.acquire() as blocker:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE models IN ACCESS EXCLUSIVE MODE")
        try:
            clock.now += TTL_S + 0.01
            # Stale by a hair: answered now, and a refresh starts (and blocks).
            assert (await resolutions.runnable(name, "")).version == "1.0.0"
            clock.now += READ_ALLOWANCE_S
            calls = [asyncio.create_task(resolutions.runnable(name, "")) for _ in range(200)]
            await asyncio.sleep(0.3)
            assert not any(call.done() for call in calls), "served past the bound"
            waiting = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND query LIKE '%FROM models m%'"
            )
            assert waiting == 1, "one refresh per model, however many callers"
        finally:
            await transaction.rollback()
    assert {(await call).version for call in calls} == {"2.0.0"}
