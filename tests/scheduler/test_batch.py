"""The command batcher against a real Redis: coalescing, per-call replies and errors,
scripts the server forgot, and a Redis that is down."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from scheduler.batch import CommandBatcher, ScriptCall
from scheduler.connection import Client, RedisSettings, connect


class CountingPipelines:
    """The real client, counting the pipelines (round trips) the batcher opens."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.opened = 0

    def pipeline(self, **kwargs: Any) -> Any:
        self.opened += 1
        return self.client.pipeline(**kwargs)


async def test_concurrent_calls_of_one_loop_turn_share_one_round_trip(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    counting = CountingPipelines(client)
    batcher = CommandBatcher(counting)  # type: ignore[arg-type]
    try:
        replies = await asyncio.gather(
            *(batcher.run(("SET", f"k{i}", i), ("GET", f"k{i}")) for i in range(200))
        )
        assert replies == [[True, str(i)] for i in range(200)]
        assert counting.opened == 1
        # A call after that is a batch of its own.
        assert await batcher.run(("GET", "k7")) == ["7"]
        assert counting.opened == 2
    finally:
        await batcher.close()
        await client.aclose()


async def test_a_full_batch_is_sent_at_once_and_the_rest_follows(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    counting = CountingPipelines(client)
    batcher = CommandBatcher(counting, max_commands=64)  # type: ignore[arg-type]
    try:
        replies = await asyncio.gather(*(batcher.run(("INCR", "n")) for _ in range(150)))
        assert sorted(r[0] for r in replies) == list(range(1, 151))
        assert counting.opened == 3  # 64 + 64 + 22
    finally:
        await batcher.close()
        await client.aclose()


async def test_calls_made_while_batches_are_in_flight_wait_and_leave_together(
    clean_redis: str,
) -> None:
    client = connect(RedisSettings(clean_redis))
    counting = CountingPipelines(client)
    batcher = CommandBatcher(counting, max_in_flight=1)  # type: ignore[arg-type]
    try:
        # The first batch holds its connection for 0.3 s (BLPOP on an empty list).
        slow = asyncio.ensure_future(batcher.run(("BLPOP", "empty", 0.3)))
        afterwards = []
        for _ in range(5):  # calls over several loop turns while it is out
            await asyncio.sleep(0.02)
            afterwards += [asyncio.ensure_future(batcher.run(("INCR", "n"))) for _ in range(10)]
        assert await slow == [None]
        replies = await asyncio.gather(*afterwards)
        assert sorted(r[0] for r in replies) == list(range(1, 51))
        assert counting.opened == 2
    finally:
        await batcher.close()
        await client.aclose()


async def test_one_failing_command_fails_only_its_own_call(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    batcher = CommandBatcher(client)
    try:
        await client.set("text", "not a hash")
        good, bad = await asyncio.gather(
            batcher.run(("SET", "a", "1")),
            batcher.run(("HGETALL", "text")),
            return_exceptions=True,
        )
        assert good == [True]
        assert isinstance(bad, ResponseError) and "WRONGTYPE" in str(bad)
        assert await client.get("a") == "1"
    finally:
        await batcher.close()
        await client.aclose()


async def test_a_script_the_server_forgot_is_loaded_again(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    batcher = CommandBatcher(client)
    script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    try:
        assert await batcher.run(ScriptCall(script, ["s"], [5])) == [5]
        await client.script_flush()
        replies = await asyncio.gather(
            *(batcher.run(ScriptCall(script, ["s"], [1]), ("GET", "s")) for _ in range(3))
        )
        assert sorted(r[0] for r in replies) == [6, 7, 8]
        assert await client.get("s") == "8"
    finally:
        await batcher.close()
        await client.aclose()


async def test_a_cancelled_caller_does_not_disturb_the_others(clean_redis: str) -> None:
    client = connect(RedisSettings(clean_redis))
    batcher = CommandBatcher(client)
    try:
        doomed = asyncio.ensure_future(batcher.run(("SET", "x", "1")))
        survivor = asyncio.ensure_future(batcher.run(("SET", "y", "2")))
        await asyncio.sleep(0)
        doomed.cancel()
        assert await survivor == [True]
        assert doomed.cancelled()
    finally:
        await batcher.close()
        await client.aclose()


async def test_every_call_of_a_batch_gets_the_error_when_redis_is_down() -> None:
    # Port 1 refuses connections: the whole batch fails, fast, with ConnectionError.
    client = connect(RedisSettings("redis://127.0.0.1:1", connect_timeout_s=0.5))
    batcher = CommandBatcher(client)
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(batcher.run(("GET", "k")) for _ in range(5)), return_exceptions=True),
            10,
        )
        assert len(outcomes) == 5
        assert all(isinstance(o, RedisConnectionError) for o in outcomes)
    finally:
        await batcher.close()
        await client.aclose()


@pytest.mark.parametrize("commands", [(), (("PING",),)])
async def test_a_call_gets_one_reply_per_command(
    clean_redis: str, commands: tuple[Any, ...]
) -> None:
    client = connect(RedisSettings(clean_redis))
    batcher = CommandBatcher(client)
    try:
        assert len(await batcher.run(*commands)) == len(commands)
    finally:
        await batcher.close()
        await client.aclose()


async def test_commands_made_as_their_batch_leaves_take_what_gathered_until_then(
    clean_redis: str,
) -> None:
    client = connect(RedisSettings(clean_redis))
    counting = CountingPipelines(client)
    batcher = CommandBatcher(counting)  # type: ignore[arg-type]
    gathered: list[str] = []
    made: list[list[str]] = []
    answered: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

    def make() -> list[tuple[list[Any], Any]]:
        made.append(list(gathered))
        return [([("RPUSH", "l", *gathered), ("LLEN", "l")], answered.set_result)]

    try:
        # The first batch is on its way for 0.3 s (a BLPOP of an empty list).
        first = asyncio.ensure_future(batcher.run(("BLPOP", "nothing", 0.3)))
        await asyncio.sleep(0.05)
        batcher.later(make)
        for item in "xyz":  # loop turns go by while it is
            gathered.append(item)
            await asyncio.sleep(0.01)
        assert made == []
        assert await first == [None]
        replies = await asyncio.wait_for(answered, 5)
        assert made == [["x", "y", "z"]]  # made once, as the second batch left
        assert replies.result() == [3, 3]
        assert counting.opened == 2
    finally:
        await batcher.close()
        await client.aclose()


async def test_commands_made_later_get_the_error_when_redis_is_down() -> None:
    client = connect(RedisSettings("redis://127.0.0.1:1", connect_timeout_s=0.5))
    batcher = CommandBatcher(client)
    answered: asyncio.Future[asyncio.Future[list[Any]]] = asyncio.get_running_loop().create_future()
    try:
        batcher.later(lambda: [([("GET", "k")], answered.set_result)])
        replies = await asyncio.wait_for(answered, 10)
        assert isinstance(replies.exception(), RedisConnectionError)
    finally:
        await batcher.close()
        await client.aclose()
