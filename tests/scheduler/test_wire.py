"""The batcher's own Redis connection (scheduler.wire) against a real Redis: the
replies redis-py's pipeline gives, in order across callers, and a connection
that breaks, a server that stops answering and one that is not there."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import uvloop
from redis.exceptions import AuthenticationError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError

from scheduler.batch import CommandBatcher
from scheduler.connection import RedisSettings, connect
from scheduler.packing import HiredisConnection
from scheduler.wire import RedisWire, WireSettings

# A script that keeps Redis busy for 50 ms before it answers.
SLOW = (
    "local t = redis.call('TIME') local start = t[1] * 1e6 + t[2] "
    "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - start > 50000 return 1"
)
SCRIPT = "return {1, 'two', false, {redis.status_reply('OK'), redis.error_reply('BAD nested')}}"

COMMANDS: list[tuple[Any, ...]] = [
    ("SET", "s", "1"),
    ("SET", "s", "2", "NX"),  # nil: not set
    ("GET", "s"),
    ("GET", "missing"),
    ("INCRBY", "s", 5),
    ("INCRBYFLOAT", "f", 1.5),
    ("EXPIRE", "s", 100),
    ("EXPIRE", "missing", 100),
    ("HSET", "h", "a", "1", "b", "é"),
    ("HGETALL", "h"),
    ("HGETALL", "missing"),
    ("HMGET", "h", "a", "nope"),
    ("ZADD", "z", 1, "x", 2.5, "y"),
    ("ZRANGE", "z", 0, -1, "WITHSCORES"),
    ("SADD", "set", "a", "b"),
    ("SMEMBERS", "missing"),
    ("PING",),
    ("HGETALL", "s"),  # WRONGTYPE, in place
    ("EVALSHA", "0" * 40, 0),  # NOSCRIPT, in place
    ("EVAL", SCRIPT, 0),
    ("NOSUCHCOMMAND",),
    ("PUBLISH", "nobody", "x"),
    ("DEL", "s", "h", "z", "set", "f"),
]


def _shape(reply: Any) -> Any:
    """A reply with errors as (class, text), so that two runs compare equal."""
    if isinstance(reply, Exception):
        return (type(reply).__name__, str(reply))
    if isinstance(reply, list):
        return [_shape(r) for r in reply]
    if isinstance(reply, dict):
        return {k: _shape(v) for k, v in reply.items()}
    return reply


@pytest.mark.parametrize("protocol", [3, 2])
@pytest.mark.parametrize("decode", [True, False])
async def test_the_replies_are_those_of_redis_pys_pipeline(
    clean_redis: str, decode: bool, protocol: int
) -> None:
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        clean_redis, connection_class=HiredisConnection, decode_responses=decode, protocol=protocol
    )
    client = redis.asyncio.Redis(connection_pool=pool)
    settings = WireSettings.of(client)
    assert settings is not None and settings.protocol == protocol
    pipe = client.pipeline(transaction=False)
    for command in COMMANDS:
        pipe.execute_command(*command)
    expected = _shape(await pipe.execute(raise_on_error=False))
    await client.aclose()

    wire = RedisWire(settings)
    try:
        replies = await wire.execute(COMMANDS)
    finally:
        wire.close()
    assert _shape(replies) == expected
    assert isinstance(replies[COMMANDS.index(("EVALSHA", "0" * 40, 0))], NoScriptError)
    assert replies[COMMANDS.index(("EXPIRE", "s", 100))] is True  # the client's callback


async def test_batches_on_their_way_share_the_connection_in_order(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    wire = RedisWire(WireSettings.of(client))  # type: ignore[arg-type]
    # The session's Redis serves other tests' servers too (their workers BLPOP):
    # only connections made during this test count.
    earlier = {c["id"] for c in await client.client_list()}
    try:
        # Slow first: BLPOP holds the connection; the INCRs queue behind it.
        slow = asyncio.ensure_future(wire.execute([("BLPOP", "empty", 0.2)]))
        await asyncio.sleep(0.01)
        counts = await asyncio.gather(*(wire.execute([("INCR", "n")]) for _ in range(50)))
        assert await slow == [None]
        assert [c[0] for c in counts] == list(range(1, 51))
        clients = [c for c in await client.client_list() if c["id"] not in earlier]
        assert sum(1 for c in clients if c["cmd"] in ("incr", "blpop")) == 1
    finally:
        wire.close()
        await client.aclose()


async def test_a_cancelled_caller_leaves_the_next_replies_in_place(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    wire = RedisWire(WireSettings.of(client))  # type: ignore[arg-type]
    try:
        await wire.execute([("PING",)])  # connected, so the next batch is sent at once
        doomed = asyncio.ensure_future(wire.execute([("SET", "x", "1"), ("GET", "x")]))
        await asyncio.sleep(0)  # the batch is written; its caller waits for the replies
        doomed.cancel()
        assert await wire.execute([("SET", "y", "2"), ("GET", "y")]) == [True, "2"]
        assert await client.get("x") == "1"  # sent before the cancel: it ran
    finally:
        wire.close()
        await client.aclose()


async def test_a_killed_connection_fails_its_batches_and_the_next_one_reconnects(
    clean_redis: str,
) -> None:
    client = connect(RedisSettings(clean_redis))
    wire = RedisWire(WireSettings.of(client))  # type: ignore[arg-type]
    try:
        await wire.execute([("CLIENT", "SETNAME", "wire-under-test")])
        pending = asyncio.ensure_future(wire.execute([("BLPOP", "empty", 5)]))
        await asyncio.sleep(0.05)
        assert await client.client_kill_filter(_type="normal", skipme=True) >= 1
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(pending, 2)
        assert await wire.execute([("PING",)]) == [True]
    finally:
        wire.close()
        await client.aclose()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("protocol", "error"),
    [(3, "cannot connect to Redis"), (2, "did not answer within 0.3 s")],
)
async def test_a_server_that_does_not_answer_fails_within_the_timeouts(
    silent_server: int, protocol: int, error: str
) -> None:
    # RESP3 opens with HELLO, which goes unanswered: the connect timeout. RESP2
    # without a password sends nothing first: the reply timeout.
    wire = RedisWire(
        WireSettings(
            "127.0.0.1",
            silent_server,
            protocol=protocol,
            connect_timeout_s=0.3,
            reply_timeout_s=0.3,
        )
    )
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(RedisConnectionError, match=error):
            await asyncio.wait_for(wire.execute([("PING",)]), 5)
        assert asyncio.get_running_loop().time() - started < 1.5
    finally:
        wire.close()


def test_a_reply_that_came_while_the_loop_was_blocked_is_not_a_timeout(clean_redis: str) -> None:
    # A server's event loop blocked past the reply timeout inside an I/O callback
    # (a burst of calls, a long garbage collection) wakes with the wire's timer
    # due and the reply unread: uvloop runs due timers before it reads sockets.
    # The reply that came must win over the timer.
    url = urlsplit(clean_redis)
    settings = WireSettings(
        url.hostname or "127.0.0.1",
        url.port or 6379,
        password=url.password,
        username=url.username or None,
        reply_timeout_s=0.2,
    )

    async def blocked_while_waiting() -> None:
        loop = asyncio.get_running_loop()
        wire = RedisWire(settings)
        busy, trigger = socket.socketpair()
        loop.add_reader(busy, lambda: (busy.recv(1), time.sleep(0.5)))
        try:
            await wire.execute([("PING",)])  # connected
            for _ in range(2):
                # Redis answers after 50 ms, while the loop is blocked (from 10 ms on).
                answer = asyncio.ensure_future(wire.execute([("EVAL", SLOW, 0), ("ECHO", "y")]))
                loop.call_later(0.01, trigger.send, b"x")
                assert await answer == [1, "y"]
        finally:
            loop.remove_reader(busy)
            busy.close()
            trigger.close()
            wire.close()

    uvloop.run(blocked_while_waiting())


async def test_a_batch_answered_in_parts_may_take_longer_than_the_timeout(
    clean_redis: str,
) -> None:
    # Six slow scripts, each longer than one of Redis's reads (16 KB), are
    # answered one by one, 50 ms apart: 300 ms in all, past the 0.2 s timeout,
    # but never 0.2 s of silence. Redis is working, not gone.
    url = urlsplit(clean_redis)
    wire = RedisWire(
        WireSettings(
            url.hostname or "127.0.0.1",
            url.port or 6379,
            password=url.password,
            username=url.username or None,
            reply_timeout_s=0.2,
        )
    )
    try:
        pad = "p" * 20_000
        assert await wire.execute([("EVAL", SLOW, 0, pad)] * 6) == [1] * 6
    finally:
        wire.close()


async def test_nothing_listening_is_a_connection_error() -> None:
    wire = RedisWire(WireSettings("127.0.0.1", 1, connect_timeout_s=0.5))
    with pytest.raises(RedisConnectionError, match="cannot connect to Redis"):
        await wire.execute([("PING",)])


async def test_credentials_and_database_come_from_the_url(clean_redis: str) -> None:
    admin = redis.asyncio.Redis.from_url(clean_redis, decode_responses=True)
    await admin.acl_setuser(
        "wire", enabled=True, passwords=["+s3cret"], keys="*", commands=["+@all"]
    )
    host_port = urlsplit(clean_redis).netloc.rpartition("@")[2]  # without the session's password
    try:
        good = connect(RedisSettings(f"redis://wire:s3cret@{host_port}/3"))
        wire = RedisWire(WireSettings.of(good))  # type: ignore[arg-type]
        assert await wire.execute([("SET", "in-db-3", "yes")]) == [True]
        wire.close()
        await good.aclose()
        assert await admin.get("in-db-3") is None
        await admin.select(3)  # type: ignore[attr-defined]
        assert await admin.execute_command("GET", "in-db-3") == "yes"

        bad = connect(RedisSettings(f"redis://wire:wrong@{host_port}/0"))
        wire = RedisWire(WireSettings.of(bad))  # type: ignore[arg-type]
        with pytest.raises(AuthenticationError, match="invalid username-password"):
            await wire.execute([("PING",)])
        wire.close()
        await bad.aclose()
    finally:
        await admin.acl_deluser("wire")
        await admin.aclose()


def test_only_plain_single_server_clients_get_a_wire() -> None:
    assert WireSettings.of(connect(RedisSettings("redis://127.0.0.1:6379/2"))) is not None
    assert WireSettings.of(connect(RedisSettings("rediss://127.0.0.1:6379"))) is None
    assert WireSettings.of(connect(RedisSettings("redis+cluster://127.0.0.1:7000"))) is None
    assert WireSettings.of(object()) is None


async def test_the_batcher_sends_a_loop_turns_calls_as_one_write(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    batcher = CommandBatcher(client)
    wire = batcher._wire
    assert wire is not None
    sent: list[int] = []
    execute = wire.execute

    async def counting(commands: list[tuple[Any, ...]]) -> list[Any]:
        sent.append(len(commands))
        return await execute(commands)

    wire.execute = counting  # type: ignore[method-assign]
    try:
        replies = await asyncio.gather(
            *(batcher.run(("INCR", "n"), ("GET", "n")) for _ in range(100))
        )
        assert sorted(int(r[1]) for r in replies) == list(range(1, 101))
        assert sent == [200]
    finally:
        await batcher.close()
        await client.aclose()
