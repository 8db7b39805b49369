"""Keeps this process's policy in step with the database: LISTEN, reload, reconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from authz.store import CHANNEL

log = logging.getLogger(__name__)


class _Backoff:
    def __init__(self, first: float, limit: float) -> None:
        self._first, self._limit = first, limit
        self._next = first

    def reset(self) -> None:
        self._next = self._first

    def __call__(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._limit)
        return delay


class PolicyListener:
    """LISTENs on `CHANNEL` with a connection held from ``pool`` and calls ``reload`` on news.

    Notifications only mark the policy dirty; one reload task drains them, so a
    burst of grants costs one or two reloads. After every (re)subscription the
    policy is reloaded too, since notifications sent while nobody listened are
    lost. A lost connection (server gone, or a failed ping) is replaced with
    exponential backoff; nothing here ever stops the process.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        reload: Callable[[], Awaitable[None]],
        *,
        ping_interval: float = 30.0,
        max_backoff: float = 30.0,
    ) -> None:
        self._pool = pool
        self._reload = reload
        self._ping_interval = ping_interval
        self._listen_backoff = _Backoff(0.1, max_backoff)
        self._reload_backoff = _Backoff(0.1, max_backoff)
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="authz-listen"),
            asyncio.create_task(self._reload_forever(), name="authz-reload"),
        ]

    async def stop(self) -> None:
        """Cancel both tasks and wait for them; safe to call twice."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_notify(self, *_: Any) -> None:
        self._dirty.set()

    async def _reload_forever(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._reload()
            except Exception:
                # Keep serving the last good policy; try again shortly.
                delay = self._reload_backoff()
                log.exception("authz: policy reload failed, retrying in %.1f s", delay)
                self._dirty.set()
                await asyncio.sleep(delay)
            else:
                self._reload_backoff.reset()

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen_once()
            except Exception as exc:
                delay = self._listen_backoff()
                log.warning("authz: policy listener lost (%r), reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _listen_once(self) -> None:
        async with self._pool.acquire() as conn:
            lost = asyncio.Event()

            def on_lost(_conn: Any) -> None:
                lost.set()

            conn.add_termination_listener(on_lost)
            await conn.add_listener(CHANNEL, self._on_notify)
            try:
                self._dirty.set()  # catch up on whatever changed while we were not listening
                self._listen_backoff.reset()
                await self._watch(conn, lost)
            finally:
                conn.remove_termination_listener(on_lost)
                if not conn.is_closed():
                    await conn.remove_listener(CHANNEL, self._on_notify)

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return only by raising, when the connection is gone or stops answering."""
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self._ping_interval)
            except TimeoutError:
                # A silently dropped TCP connection would never report itself.
                await conn.fetchval("SELECT 1", timeout=self._ping_interval)
            else:
                raise ConnectionError("listen connection closed")
