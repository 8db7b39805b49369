"""The hiredis packer writes exactly the bytes redis-py's own packer writes,
and refuses what redis-py refuses; a redis:// pool uses it against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from scheduler.connection import RedisSettings, connect
from scheduler.packing import HiredisConnection, pack

REDIS_PY = Connection()
values = st.one_of(
    st.text(), st.binary(), st.integers(), st.floats(allow_nan=False), st.binary().map(bytearray)
)


@given(
    st.sampled_from(["SET", "EVALSHA", "CONFIG GET", b"HSET", b"CLIENT SETNAME"]), st.lists(values)
)
def test_the_same_bytes_as_redis_py(command: str | bytes, args: list[object]) -> None:
    assert b"".join(pack((command, *args))) == b"".join(REDIS_PY.pack_command(command, *args))


def test_pipelines_pack_the_same_bytes() -> None:
    commands = [("SET", "a", 1), ("GET", "a"), ("EVALSHA", "f" * 40, 1, "k", 2.5, b"\x00" * 10_000)]
    packed = HiredisConnection().pack_commands(commands)
    assert b"".join(packed) == b"".join(REDIS_PY.pack_commands(commands))


@pytest.mark.parametrize("bad", [None, True, {"a": 1}, [1]])
def test_what_redis_py_refuses_is_refused(bad: object) -> None:
    with pytest.raises(DataError):
        REDIS_PY.pack_command("SET", "k", bad)
    with pytest.raises(DataError):
        pack(("SET", "k", bad))


def test_a_pool_packs_with_hiredis_against_a_real_redis(redis_url: str) -> None:
    async def roundtrip() -> tuple[type, object, object]:
        client = connect(RedisSettings(redis_url))
        try:
            await client.set("packing:k", "é 1.5")
            pipe = client.pipeline(transaction=False)
            pipe.get("packing:k").incrbyfloat("packing:f", 0.1).delete("packing:k", "packing:f")
            got, total, _ = await pipe.execute()
            return client.connection_pool.connection_class, got, total
        finally:
            await client.aclose()

    kind, got, total = asyncio.run(roundtrip())
    assert kind is HiredisConnection and got == "é 1.5" and float(total) == pytest.approx(0.1)
