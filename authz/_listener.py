"""Keeps this process's policy in step with the database: LISTEN, reload, reconnect.

The same connection carries the process's other channels (`PolicyListener.subscribe`),
so that a process holds one LISTEN connection, whatever it listens to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Subscription:
    """What a channel's subscriber is told: each payload, and that the channel is
    listened to (again), after which it must assume it missed notifications."""

    on_notify: Callable[[str], None]
    on_listening: Callable[[], None]

    def deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.on_notify(payload)


class PolicyListener:
    """LISTENs on `CHANNEL` with a connection held from ``pool`` and calls ``reload`` on news.

    Notifications only mark the policy dirty; one reload task drains them, so a
    burst of grants costs one or two reloads. After every (re)subscription the
    policy is reloaded too, since notifications sent while nobody listened are
    lost. A lost connection (server gone, or a failed ping) is replaced with
    exponential backoff; nothing here ever stops the process. Other channels
    subscribed to are (re)listened to on the same connection.
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
        self._subscriptions: dict[str, Subscription] = {}
        self._conn: asyncpg.Connection | None = None

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

    async def subscribe(self, channel: str, subscription: Subscription) -> None:
        """LISTEN on ``channel`` too, on this listener's connection, for as long as it runs.

        ``subscription.on_listening`` is called each time the channel is listened to,
        the first time included; until then nothing is delivered.
        """
        if channel == CHANNEL or channel in self._subscriptions:
            raise ValueError(f"channel {channel!r} is already listened to")
        self._subscriptions[channel] = subscription
        conn = self._conn
        if conn is None:
            return  # _listen_once subscribes it on connecting
        try:
            await conn.add_listener(channel, subscription.deliver)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            # The connection is going; its replacement subscribes the channel.
            log.warning("listen on %s failed (%r); it follows the reconnection", channel, exc)
            return
        subscription.on_listening()

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
            # Set first: a channel subscribed from here on adds itself to conn.
            self._conn = conn
            try:
                subscribed = list(self._subscriptions.items())
                for channel, subscription in subscribed:
                    await conn.add_listener(channel, subscription.deliver)
                self._dirty.set()  # catch up on whatever changed while we were not listening
                for _, subscription in subscribed:
                    subscription.on_listening()
                self._listen_backoff.reset()
                await self._watch(conn, lost)
            finally:
                self._conn = None
                conn.remove_termination_listener(on_lost)
                if not conn.is_closed():
                    await conn.remove_listener(CHANNEL, self._on_notify)
                    for channel, subscription in self._subscriptions.items():
                        await conn.remove_listener(channel, subscription.deliver)

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
