"""Redis connections that pack commands with hiredis (C) instead of redis-py's
pure-Python packer.

redis-py's asyncio connections pack every command in Python, whatever parser
they read replies with: for the submission script's call (about forty keys and
arguments) that took 175 µs against hiredis's 19 µs, on this project's bench
machine, the largest single cost of SubmitJob in its profile. The bytes are the
same (a test holds them equal); floats are written as redis-py writes them
(repr), so a script reads the same text either way.

Only redis:// pools use it: for rediss:// and unix:// URLs redis-py's from_url
chooses its own connection class.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import hiredis
from redis.asyncio.connection import Connection
from redis.exceptions import DataError


def pack(args: tuple[Any, ...]) -> list[bytes]:
    """One command in the Redis protocol, as redis-py's Connection.pack_command packs it."""
    first = args[0]
    # A command name with a space ("CONFIG GET") is sent as separate words.
    if isinstance(first, str):
        args = (*first.encode().split(), *args[1:])
    elif b" " in first:
        args = (*first.split(), *args[1:])
    try:
        return [hiredis.pack_command(tuple(_encodable(arg) for arg in args))]
    except TypeError as exc:  # a value Redis cannot take (None, a dict...)
        raise DataError(str(exc)) from None


def pack_many(commands: Any) -> bytes:
    """Several commands in the Redis protocol, one after the other, as one write."""
    return b"".join([pack(tuple(command))[0] for command in commands])


def _encodable(arg: Any) -> Any:
    kind = type(arg)
    if kind is float:
        return repr(arg)  # redis-py's text for a float
    if kind is bool:
        raise DataError(
            "Invalid input of type: 'bool'. Convert to a bytes, string, int or float first."
        )
    if kind is bytearray or kind is memoryview:
        return bytes(arg)
    return arg


class HiredisConnection(Connection):
    """A redis:// connection that packs with hiredis."""

    def pack_command(self, *args: Any) -> list[bytes]:
        return pack(args)

    def pack_commands(self, commands: Any) -> list[bytes]:
        return [pack_many(commands)]


def connection_kwargs(url: str) -> dict[str, Any]:
    """The pool's connection_class for a Redis URL: hiredis packing for redis://."""
    return {"connection_class": HiredisConnection} if urlsplit(url).scheme == "redis" else {}
