"""Redis clients for the job protocol: one shared, bounded pool per process.

A URL of the form redis+cluster://host:port[,host:port...] selects Redis
Cluster; redis:// or rediss:// a single server. The pool blocks callers for a
bounded time when every connection is busy (redis-py's default pool raises at
100 connections instead), and a Redis that is down fails fast with
ConnectionError (after two quick retries), which the gateway answers as
UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from scheduler.packing import connection_kwargs

Client = aioredis.Redis | RedisCluster


@dataclass(frozen=True)
class RedisSettings:
    """Where Redis is (one server or a cluster's seed nodes) and how to talk to it."""

    url: str
    max_connections: int = 512
    pool_timeout_s: float = 5.0
    socket_timeout_s: float = 5.0
    connect_timeout_s: float = 2.0

    @property
    def cluster(self) -> bool:
        """Whether the URL names a Redis Cluster (redis+cluster://)."""
        return self.url.startswith("redis+cluster://")

    def nodes(self) -> list[tuple[str, int]]:
        """The (host, port) pairs the URL names: one, or a cluster's seed nodes."""
        netloc = urlsplit(self.url).netloc
        out = []
        for part in netloc.split(","):
            host, _, port = part.rpartition(":")
            out.append((host or "127.0.0.1", int(port or 6379)))
        return out


def _common(settings: RedisSettings) -> dict[str, Any]:
    return {
        "decode_responses": True,
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.connect_timeout_s,
        # A command that fails on a broken connection (a pooled connection to a
        # Redis that has since restarted) is sent again on a new one. The asyncio
        # Retry: redis.retry's synchronous one returns the command's coroutine
        # without awaiting it, so it never sees the error and retries nothing.
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
    }


def connect(settings: RedisSettings, *, max_connections: int | None = None) -> Client:
    """A client with its own pool; blocking reads get a client of their own."""
    size = max_connections or settings.max_connections
    if settings.cluster:
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in settings.nodes()],
            max_connections=size,
            **_common(settings),
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.url,
        max_connections=size,
        timeout=settings.pool_timeout_s,
        **connection_kwargs(settings.url),
        **_common(settings),
    )
    return aioredis.Redis(connection_pool=pool)


def connect_node(settings: RedisSettings, index: int = 0) -> aioredis.Redis:
    """A plain client to one server: for pub/sub, which Redis Cluster broadcasts
    to every node, so listening on any one node hears every message."""
    if not settings.cluster:
        return aioredis.Redis.from_url(settings.url, **_common(settings))
    nodes = settings.nodes()
    host, port = nodes[index % len(nodes)]
    return aioredis.Redis(host=host, port=port, **_common(settings))


def reraise_cancellation() -> None:
    """For a handler of a Redis error in a loop that retries: raises CancelledError
    if the task was cancelled meanwhile.

    redis-py sends each command inside asyncio.wait_for, which on Python 3.11
    returns the send's result when the send ends as the task is cancelled: the
    cancellation is dropped (task.cancelling() still counts it) and the call ends
    with its reply, an error such as NOGROUP. A loop that logs and retries Redis
    errors would run on, and whoever cancelled it would wait forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
