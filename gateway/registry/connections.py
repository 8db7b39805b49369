"""How an RPC of the registry or the rollout service reaches PostgreSQL: a pooled
connection with a bounded wait, or a transaction that names its actor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from audit import outbox
from gateway.interceptor import caller


class Connections:
    """A pool's connections for the calls of one service."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout_s: float) -> None:
        self._pool = pool
        self._acquire_timeout_s = acquire_timeout_s

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        # A bounded wait for a pooled connection: under overload or with the
        # database down the caller gets UNAVAILABLE instead of hanging.
        async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn, conn.transaction():
            await outbox.set_actor(conn, caller().user)  # the audit triggers record who
            yield conn
