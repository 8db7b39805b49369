"""Grants persist in PostgreSQL through AccessPolicy's writes (real server)."""

from __future__ import annotations

import asyncpg
import pytest

from authz import AccessPolicy, Action, Decision, ModelAccess, Principal, Role

ANN = Principal("ann")


async def reopened(pool: asyncpg.Pool) -> AccessPolicy:
    return await AccessPolicy.open(pool, listen=False)


async def test_grant_and_revoke_persist(pool: asyncpg.Pool) -> None:
    policy = await reopened(pool)
    async with pool.acquire() as conn, conn.transaction():
        assert await policy.grant(conn, "m", "ann", Role.OWNER)
        assert not await policy.grant(conn, "m", "ann", Role.OWNER)
        assert await policy.grant(conn, "m", "bob", Role.READER)
    fresh = await reopened(pool)
    assert fresh.access_of("m") == ModelAccess(False, ("ann",), ("bob",))
    assert fresh.decide(ANN, Action.DELETE, "m") is Decision.ALLOW

    async with pool.acquire() as conn, conn.transaction():
        assert await policy.revoke(conn, "m", "ann", Role.OWNER)
        assert not await policy.revoke(conn, "m", "ann", Role.OWNER)
    fresh = await reopened(pool)
    assert fresh.access_of("m") == ModelAccess(False, (), ("bob",))
    assert fresh.decide(ANN, Action.READ, "m") is Decision.HIDDEN


async def test_set_public_persists(pool: asyncpg.Pool) -> None:
    policy = await reopened(pool)
    async with pool.acquire() as conn:
        await policy.set_public(conn, "m", True)
        await policy.set_public(conn, "m", True)  # idempotent
    fresh = await reopened(pool)
    assert fresh.access_of("m").public
    assert fresh.decide(ANN, Action.RUN, "m") is Decision.ALLOW
    assert await pool.fetchval("SELECT count(*) FROM casbin_rule") == 1

    async with pool.acquire() as conn:
        await policy.set_public(conn, "m", False)
    fresh = await reopened(pool)
    assert not fresh.access_of("m").public
    assert fresh.readable_models(ANN) == frozenset()


async def test_forget_model_removes_only_that_model(pool: asyncpg.Pool) -> None:
    policy = await reopened(pool)
    async with pool.acquire() as conn, conn.transaction():
        await policy.grant(conn, "m", "ann", Role.OWNER)
        await policy.grant(conn, "m", "bob", Role.READER)
        await policy.set_public(conn, "m", True)
        await policy.grant(conn, "keep", "ann", Role.READER)
        await policy.forget_model(conn, "m")
        await policy.forget_model(conn, "m")  # nothing left: still fine
    fresh = await reopened(pool)
    assert fresh.access_of("m") == ModelAccess(False, (), ())
    assert fresh.readable_models(ANN) == {"keep"}


async def test_the_writer_sees_its_write_after_refresh(pool: asyncpg.Pool) -> None:
    policy = await reopened(pool)
    assert policy.decide(ANN, Action.READ, "m") is Decision.HIDDEN  # now cached
    async with pool.acquire() as conn, conn.transaction():
        await policy.grant(conn, "m", "ann", Role.READER)
    await policy.refresh()
    assert policy.decide(ANN, Action.READ, "m") is Decision.ALLOW


@pytest.mark.parametrize(("model", "user"), [("*", "ann"), ("m", "*"), ("", "ann"), ("m", "")])
async def test_reserved_and_empty_names_are_refused(
    pool: asyncpg.Pool, model: str, user: str
) -> None:
    policy = await reopened(pool)
    async with pool.acquire() as conn:
        with pytest.raises(ValueError, match="invalid"):
            await policy.grant(conn, model, user, Role.READER)


async def test_migration_namespaces_bare_lines(pool: asyncpg.Pool) -> None:
    """Lines written before grants were namespaced keep their meaning, and only it."""
    from importlib import resources

    sql = resources.files("gateway.registry.migrations").joinpath("0004_namespaced_grants.sql")
    await pool.executemany(
        "INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', $1, $2, $3)",
        [("ann", "owner", "m"), ("*", "reader", "m"), ("owner", "reader", "m")],
    )
    await pool.execute(sql.read_text())
    await pool.execute(sql.read_text())  # a second run changes nothing
    rows = await pool.fetch("SELECT v0, v1 FROM casbin_rule ORDER BY v0, v1")
    assert [tuple(r) for r in rows] == [
        ("group:everyone", "role:reader"),
        ("user:ann", "role:owner"),
        ("user:owner", "role:reader"),
    ]
    fresh = await reopened(pool)
    assert fresh.access_of("m") == ModelAccess(True, ("ann",), ("owner",))
    assert fresh.decide(Principal("owner"), Action.UPDATE, "m") is Decision.FORBIDDEN


async def test_a_line_outside_the_namespaces_grants_nothing(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', 'ann', 'role:owner', 'm')")
    assert (await reopened(pool)).decide(ANN, Action.READ, "m") is Decision.HIDDEN
