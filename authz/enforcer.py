"""`AccessPolicy`: the door of authz. The gateway asks it, and writes grants through it."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from authz import store
from authz._listener import PolicyListener, Subscription
from authz.actions import Action, Role
from authz.grants import EVERYONE, Grant
from authz.principal import Principal
from authz.rules import Decision, ModelAccess, PolicySnapshot

__all__ = ["AccessPolicy", "Decision", "ModelAccess", "Subscription"]

_MAX_CACHED_DECISIONS = 100_000

_CacheKey = tuple[str, bool, str | None, Action]


class AccessPolicy:
    """This process's view of who may do what, kept current from PostgreSQL.

    Decisions are cached until the next reload, so a repeated question never
    reaches Casbin. Writes (`grant`, `revoke`, `set_public`, `forget_model`)
    run in the caller's transaction and take effect everywhere on commit:
    other processes reload on the NOTIFY they carry. This process does too,
    but asynchronously, so for read-your-writes the caller awaits
    `refresh()` right after its commit.

    Build it with `open`. Constructing it directly from a `PolicySnapshot`
    gives a fixed, database-less policy for tests.
    """

    def __init__(self, snapshot: PolicySnapshot | None = None, *, pool: asyncpg.Pool | None = None):
        self._pool = pool
        self._snapshot = snapshot if snapshot is not None else PolicySnapshot()
        self._cache: dict[_CacheKey, Decision] = {}
        self._reload_lock = asyncio.Lock()
        self._listener: PolicyListener | None = None
        self._version = -1
        self._checked_at = 0.0
        self._reloaded_at = 0.0
        self._check_lock = asyncio.Lock()

    @classmethod
    async def open(cls, pool: asyncpg.Pool, *, listen: bool = True) -> AccessPolicy:
        """Load the policy from ``pool`` and, if ``listen``, keep it current.

        Listening holds one connection of ``pool`` for the policy's lifetime.
        """
        policy = cls(pool=pool)
        await policy.refresh()
        if listen:
            policy._listener = PolicyListener(pool, policy.refresh)
            policy._listener.start()
        return policy

    async def close(self) -> None:
        """Stop listening; safe to call twice."""
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None

    async def subscribe(self, channel: str, subscription: Subscription) -> bool:
        """Hear NOTIFY on another ``channel`` over the policy's LISTEN connection,
        the one this process holds. False (nothing will be heard) if not listening."""
        if self._listener is None:
            return False
        await self._listener.subscribe(channel, subscription)
        return True

    def decide(self, principal: Principal, action: Action, model: str | None) -> Decision:
        """May ``principal`` do ``action`` on ``model`` (None for the global actions)?"""
        key = (principal.user, principal.superuser, model, action)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._snapshot.decide(principal, action, model)
            if len(self._cache) >= _MAX_CACHED_DECISIONS:
                self._cache = {}
            self._cache[key] = decision
        return decision

    def readable_models(self, principal: Principal) -> frozenset[str] | None:
        """The models ``principal`` may read; None means all of them (superuser)."""
        return self._snapshot.readable_models(principal)

    def access_of(self, model: str) -> ModelAccess:
        return self._snapshot.access_of(model)

    async def grant(self, conn: asyncpg.Connection, model: str, user: str, role: Role) -> bool:
        """Give ``user`` ``role`` on ``model``; False if they already had it."""
        return await store.insert_grant(conn, _grant(user, role, model))

    async def revoke(self, conn: asyncpg.Connection, model: str, user: str, role: Role) -> bool:
        """Take ``role`` on ``model`` from ``user``; False if they did not have it."""
        return await store.delete_grant(conn, _grant(user, role, model))

    async def set_public(self, conn: asyncpg.Connection, model: str, public: bool) -> None:
        """Make ``model`` readable by every authenticated user, or private again."""
        line = Grant(EVERYONE, Role.READER, _name(model, "model"))
        await (store.insert_grant if public else store.delete_grant)(conn, line)

    async def forget_model(self, conn: asyncpg.Connection, model: str) -> None:
        """Delete every grant on ``model``, as part of deleting it."""
        await store.delete_model_grants(conn, _name(model, "model"))

    async def refresh(self) -> None:
        """Reload from the database now; await it after committing a write to see the write."""
        if self._pool is None:
            raise RuntimeError("this AccessPolicy has no database")
        # Serialised, so a reload that read older rows can never be installed last.
        async with self._reload_lock:
            async with self._pool.acquire() as conn:
                version, grants = await store.load_versioned_grants(conn)
            # Building the enforcer is CPU work proportional to the grants: off the loop.
            self.install(await asyncio.to_thread(PolicySnapshot, grants))
            self._version = version
            self._reloaded_at = time.monotonic()

    async def ensure_fresh(self) -> bool:
        """Reloads if another process changed the policy since this one loaded it.

        For a negative decision about to be answered: a grant committed before
        this call may not have arrived by NOTIFY yet. One small query, and one at
        a time: callers that waited while a check ran ask again only if that
        check began before they did, so a flood of denials costs about two
        queries per check's duration, not one each, and no caller is answered
        from a check older than its own question. Returns True when the policy
        was reloaded since the question was asked.
        """
        if self._pool is None:
            return False
        asked = time.monotonic()
        async with self._check_lock:
            if self._checked_at < asked:
                self._checked_at = time.monotonic()
                async with self._pool.acquire() as conn:
                    current = await store.policy_version(conn)
                if current is not None and current > self._version:
                    await self.refresh()
        return self._reloaded_at >= asked

    def install(self, snapshot: PolicySnapshot) -> None:
        """Replace the policy (what a reload does) and forget every cached decision."""
        self._snapshot = snapshot
        self._cache = {}


def _grant(user: str, role: Role, model: str) -> Grant:
    return Grant(_name(user, "user"), Role(role), _name(model, "model"))


def _name(value: str, what: str) -> str:
    # "*" would read as "everyone" (user) or "global" (model) in the Casbin lines.
    if not value or value == EVERYONE:
        raise ValueError(f"invalid {what} name {value!r}")
    return value
