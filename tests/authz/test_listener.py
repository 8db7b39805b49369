"""Every process follows the database: NOTIFY on commit, silence on rollback, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from authz import AccessPolicy, Action, Decision, Principal, Role, Subscription

ANN = Principal("ann")


@pytest.fixture
async def writer(pool: asyncpg.Pool) -> AsyncIterator[AccessPolicy]:
    policy = await AccessPolicy.open(pool)
    yield policy
    await policy.close()


@pytest.fixture
async def other(postgres_dsn: str) -> AsyncIterator[AccessPolicy]:
    """Another gateway process: its own pool and enforcer."""
    async with asyncpg.create_pool(postgres_dsn, min_size=1, max_size=3) as pool:
        policy = await AccessPolicy.open(pool)
        yield policy
        await policy.close()


async def eventually(check: Callable[[], bool], within: float = 1.0) -> None:
    """Poll ``check`` (a decision, which nothing signals) until it holds."""
    for _ in range(int(within / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    assert check(), f"not true within {within} s"


def can_run(policy: AccessPolicy, model: str = "m") -> bool:
    return policy.decide(ANN, Action.RUN, model) is Decision.ALLOW


async def test_another_process_sees_a_commit_within_a_second(
    pool: asyncpg.Pool, writer: AccessPolicy, other: AccessPolicy
) -> None:
    assert not can_run(other)
    async with pool.acquire() as conn, conn.transaction():
        await writer.grant(conn, "m", "ann", Role.READER)
    await eventually(lambda: can_run(other))
    await eventually(lambda: can_run(writer))  # its own listener hears it too

    async with pool.acquire() as conn, conn.transaction():
        await writer.set_public(conn, "p", True)
        await writer.revoke(conn, "m", "ann", Role.READER)
    await eventually(lambda: not can_run(other) and can_run(other, "p"))


async def test_a_rollback_changes_nothing_anywhere(
    pool: asyncpg.Pool, writer: AccessPolicy, other: AccessPolicy
) -> None:
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await writer.grant(conn, "m", "ann", Role.OWNER)
        await writer.set_public(conn, "m", True)
        await transaction.rollback()
    await writer.refresh()
    assert await pool.fetchval("SELECT count(*) FROM casbin_rule") == 0
    # A later commit arrives, so the listeners were live when the rollback happened.
    async with pool.acquire() as conn, conn.transaction():
        await writer.grant(conn, "later", "ann", Role.READER)
    await eventually(lambda: can_run(other, "later"))
    for policy in (writer, other):
        assert policy.decide(ANN, Action.READ, "m") is Decision.HIDDEN
        assert policy.access_of("m").owners == ()


async def test_a_lost_listen_connection_is_replaced(
    pool: asyncpg.Pool, writer: AccessPolicy, other: AccessPolicy
) -> None:
    await asyncio.sleep(0.2)  # let both listeners subscribe
    killed = await pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'"
        " AND datname = current_database()"
    )
    assert killed == 2
    async with pool.acquire() as conn, conn.transaction():
        await writer.grant(conn, "m", "ann", Role.READER)
    await eventually(lambda: can_run(other), within=5.0)


async def test_close_is_idempotent(writer: AccessPolicy) -> None:
    await writer.close()
    await writer.close()


async def test_a_stale_policy_catches_up_on_a_denial_without_waiting_for_notify(
    pool: asyncpg.Pool,
) -> None:
    writer = await AccessPolicy.open(pool, listen=False)
    reader = await AccessPolicy.open(pool, listen=False)  # hears no NOTIFY at all
    try:
        alice = Principal("alice")
        assert reader.decide(alice, Action.READ, "fresh-model") is Decision.HIDDEN
        async with pool.acquire() as conn, conn.transaction():
            await writer.grant(conn, "fresh-model", "alice", Role.READER)
        assert reader.decide(alice, Action.READ, "fresh-model") is Decision.HIDDEN
        assert await reader.ensure_fresh()
        assert reader.decide(alice, Action.READ, "fresh-model") is Decision.ALLOW
        assert not await reader.ensure_fresh(), "nothing changed since"
    finally:
        await writer.close()
        await reader.close()


async def test_a_check_made_just_before_a_grant_does_not_hide_it(pool: asyncpg.Pool) -> None:
    """A denial re-checks even if another denial checked a moment before the grant."""
    writer = await AccessPolicy.open(pool, listen=False)
    reader = await AccessPolicy.open(pool, listen=False)
    try:
        alice = Principal("alice")
        assert not await reader.ensure_fresh()  # a denial for someone else, just now
        async with pool.acquire() as conn, conn.transaction():
            await writer.grant(conn, "just-granted", "alice", Role.READER)
        assert await reader.ensure_fresh()
        assert reader.decide(alice, Action.READ, "just-granted") is Decision.ALLOW
        # Many denials at once share checks instead of querying one by one.
        results = await asyncio.gather(*(reader.ensure_fresh() for _ in range(200)))
        assert not any(results)
    finally:
        await writer.close()
        await reader.close()


async def test_another_channel_shares_the_connection_and_follows_reconnections(
    pool: asyncpg.Pool, writer: AccessPolicy
) -> None:
    heard: list[str] = []
    listening: list[bool] = []
    subscription = Subscription(on_notify=heard.append, on_listening=lambda: listening.append(True))
    assert await writer.subscribe("test_other", subscription)
    with pytest.raises(ValueError):
        await writer.subscribe("test_other", subscription)
    await eventually(lambda: listening == [True])
    await pool.execute("SELECT pg_notify('test_other', 'one')")
    await eventually(lambda: heard == ["one"])
    listens = (
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        " AND query LIKE 'LISTEN%' AND datname = current_database()"
    )
    assert await pool.fetchval(listens) == 1, "one LISTEN connection for both channels"

    await pool.fetchval(listens.replace("count(*)", "count(pg_terminate_backend(pid))"))
    await eventually(lambda: listening == [True, True], within=5.0)  # told it may have missed some
    await pool.execute("SELECT pg_notify('test_other', 'two')")
    await eventually(lambda: heard == ["one", "two"])


async def test_a_policy_that_does_not_listen_subscribes_nothing(pool: asyncpg.Pool) -> None:
    policy = await AccessPolicy.open(pool, listen=False)
    subscription = Subscription(on_notify=lambda _: None, on_listening=lambda: None)
    assert not await policy.subscribe("test_other", subscription)
    await policy.close()
