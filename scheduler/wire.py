"""One pipelined connection to a single Redis server, for the command batcher.

A redis-py pipeline costs about 190 µs of CPU per round trip on this project's
bench machine (a pool checkout under a lock, a retry wrapper, metrics hooks,
a timeout scope and a coroutine chain per reply), and under a thousand
concurrent SubmitJob calls the batcher's batches hold one or two calls: the
round trip is most of what a submission costs the server. Here a batch is
written to one socket as packed bytes and its replies are parsed by hiredis as
they arrive; batches on their way share the connection, since Redis answers
a connection's commands in order. The same round trip costs about 75 µs, most
of it the kernel's.

Replies are what redis-py's pipeline gives for the same client (decoded text,
its response callbacks, error replies as its exception classes, in place); a
test holds the two equal. A connection that breaks fails the batches on it
with ConnectionError, as does a Redis that does not answer within the socket
timeout (the gateway answers both UNAVAILABLE), and the next batch connects
again. A batch is never sent twice: a script that
may have run is not run again.

Only single servers on redis:// use it (not Redis Cluster, rediss:// or
unix://): the batcher keeps redis-py's pipeline for those.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError

from scheduler.packing import HiredisConnection, pack_many


@dataclass(frozen=True)
class WireSettings:
    """Where the server is and how to open a session on it (a client's pool's kwargs)."""

    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = None
    encoding: str | None = "utf-8"
    """None: replies as bytes (a client without decode_responses)."""
    encoding_errors: str = "strict"
    protocol: int = 3
    """RESP version, as redis-py speaks it (3 unless the client asked for 2)."""
    connect_timeout_s: float = 2.0
    reply_timeout_s: float = 5.0
    callbacks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """The client's response callbacks, by upper-case command name."""

    @classmethod
    def of(cls, client: Any) -> WireSettings | None:
        """The settings of a redis-py client's pool, if it is one the wire can stand
        in for: a single server over plain TCP (HiredisConnection's pools)."""
        if type(client) is not aioredis.Redis:
            return None
        pool = client.connection_pool
        if pool.connection_class is not HiredisConnection:
            return None
        kw = pool.connection_kwargs
        return cls(
            host=kw.get("host", "localhost"),
            port=int(kw.get("port", 6379)),
            db=int(kw.get("db", 0)),
            username=kw.get("username"),
            password=kw.get("password"),
            encoding=kw.get("encoding", "utf-8") if kw.get("decode_responses") else None,
            encoding_errors=kw.get("encoding_errors", "strict"),
            protocol=int(kw.get("protocol") or 3),
            connect_timeout_s=kw.get("socket_connect_timeout") or 2.0,
            reply_timeout_s=kw.get("socket_timeout") or 5.0,
            callbacks={str(k).upper(): v for k, v in client.response_callbacks.items()},
        )

    def handshake(self) -> list[tuple[Any, ...]]:
        """The commands that open a session: protocol, credentials and database."""
        out: list[tuple[Any, ...]] = []
        user = (self.username or "default",) if self.protocol == 3 else ()
        if self.username:
            user = (self.username,)
        auth: tuple[str, ...] = () if self.password is None else (*user, self.password)
        if self.protocol == 3:
            out.append(("HELLO", 3, *(("AUTH", *auth) if auth else ())))
        elif auth:
            out.append(("AUTH", *auth))
        if self.db:
            out.append(("SELECT", self.db))
        return out


_INCOMPLETE = object()
# How long after finding a batch overdue the wire looks again before failing it:
# long enough for the event loop to read its sockets once in between.
_RECHECK_S = 0.01


class _Batch:
    __slots__ = ("count", "future", "replies", "sent_at")

    def __init__(self, count: int, future: asyncio.Future[list[Any]]) -> None:
        self.count = count
        self.replies: list[Any] = []
        self.future = future
        self.sent_at = time.monotonic()


class _Protocol(asyncio.Protocol):
    """Hands each batch on the connection its replies, in the order they were sent."""

    def __init__(self, settings: WireSettings) -> None:
        reader: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": BaseParser.parse_error,
            "notEnoughData": _INCOMPLETE,  # False is a reply in RESP3
        }
        if settings.encoding is not None:
            reader.update(encoding=settings.encoding, errors=settings.encoding_errors)
        self._reader = hiredis.Reader(**reader)
        self.waiting: collections.deque[_Batch] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.heard_at = 0.0  # when Redis last sent anything (monotonic)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.heard_at = time.monotonic()
        reader = self._reader
        reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = reader.gets()
            except InvalidResponse as exc:  # the stream cannot be read any further
                self._fail(RedisConnectionError(f"Redis sent a reply it cannot be read: {exc}"))
                return
            if reply is _INCOMPLETE:
                return
            if not waiting:
                self._fail(RedisConnectionError("Redis sent a reply no command asked for"))
                return
            batch = waiting[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.count:
                waiting.popleft()
                if not batch.future.done():  # its caller may have been cancelled
                    batch.future.set_result(batch.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(
            self.lost or RedisConnectionError(f"Redis closed the connection: {exc or 'EOF'}")
        )

    def _fail(self, error: BaseException) -> None:
        self.lost = self.lost or error
        while self.waiting:
            batch = self.waiting.popleft()
            if not batch.future.done():
                batch.future.set_exception(self.lost)
        if self.transport is not None:
            self.transport.abort()


class RedisWire:
    """Sends batches of commands on one connection (see the module's docstring)."""

    def __init__(self, settings: WireSettings) -> None:
        self.settings = settings
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._overdue: _Batch | None = None  # past the timeout at the last check

    async def execute(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """The commands' replies in order, an error reply as its exception in place;
        raises ConnectionError if the connection failed or Redis did not answer."""
        if not commands:
            return []
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        replies = await self._send(protocol, pack_many(commands), len(commands))
        callbacks = self.settings.callbacks
        for i, command in enumerate(commands):
            name = command[0]
            callback = callbacks.get(name.upper() if isinstance(name, str) else name.decode())
            if callback is not None and not isinstance(replies[i], ResponseError):
                replies[i] = callback(replies[i])
        return replies

    def _send(self, protocol: _Protocol, data: bytes, count: int) -> asyncio.Future[list[Any]]:
        assert protocol.transport is not None
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        protocol.waiting.append(_Batch(count, future))
        protocol.transport.write(data)
        if self._timer is None:
            self._arm(self.settings.reply_timeout_s)
        return future

    def _arm(self, delay_s: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay_s, self._check_answered)

    def _check_answered(self) -> None:
        """Fails the connection if Redis has been silent for too long while its
        oldest batch waits."""
        self._timer = None
        protocol = self._protocol
        if protocol is None or not protocol.waiting:
            self._overdue = None
            return
        oldest = protocol.waiting[0]
        # Silence, not a batch's whole time: Redis answers a long batch in parts
        # (a burst's batch of thousands of scripts takes seconds) and is alive.
        waited = time.monotonic() - max(oldest.sent_at, protocol.heard_at)
        timeout = self.settings.reply_timeout_s
        if waited < timeout:
            self._overdue = None
            self._arm(timeout - waited)
        elif self._overdue is not oldest:
            # Overdue as the loop wakes from a long callback: its reply may be in
            # the socket, unread, since uvloop runs due timers before it reads
            # sockets. Look again once the loop has read them.
            self._overdue = oldest
            self._arm(_RECHECK_S)
        else:
            self._overdue = None
            protocol._fail(RedisConnectionError(f"Redis did not answer within {timeout:g} s"))

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            if self._protocol is not None and self._protocol.lost is None:
                return self._protocol  # another caller connected meanwhile
            s = self.settings
            loop = asyncio.get_running_loop()
            protocol: _Protocol | None = None
            try:
                async with asyncio.timeout(s.connect_timeout_s):
                    _, protocol = await loop.create_connection(lambda: _Protocol(s), s.host, s.port)
                    handshake = s.handshake()
                    if handshake:
                        sent = self._send(protocol, pack_many(handshake), len(handshake))
                        for reply in await sent:
                            if isinstance(reply, Exception):  # a wrong password, a bad db
                                refused = RedisConnectionError(
                                    f"Redis refused the session: {reply}"
                                )
                                protocol._fail(refused)
                                raise reply if isinstance(reply, RedisConnectionError) else refused
            except (OSError, TimeoutError) as exc:
                if protocol is not None:  # connected, but the handshake went unanswered
                    protocol._fail(RedisConnectionError("the handshake timed out"))
                raise RedisConnectionError(
                    f"cannot connect to Redis at {s.host}:{s.port}: {exc or 'timed out'}"
                ) from None
            self._protocol = protocol
            return protocol

    def close(self) -> None:
        """Closes the connection; batches still on it fail with ConnectionError."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._protocol is not None:
            self._protocol._fail(RedisConnectionError("the connection was closed"))
            self._protocol = None
