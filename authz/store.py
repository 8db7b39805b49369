"""The grants in PostgreSQL: the casbin_rule table and the modelgw_policy channel.

This is the asyncpg half of the Casbin adapter (the other half, which hands the
fetched lines to Casbin, is `rules._GrantsAdapter`). Writes run on the caller's
connection, inside the caller's transaction; each one that changes a row also
issues NOTIFY in the same statement, so other processes hear about it exactly
when, and only if, the transaction commits.
"""

from __future__ import annotations

import logging

import asyncpg

from authz.grants import Grant, UnknownTerm, grant_of, line_of

log = logging.getLogger("modelgw.authz")

CHANNEL = "modelgw_policy"
"""LISTEN/NOTIFY channel announcing a committed grant change; the payload is the model name."""

_LOAD = "SELECT v0, v1, v2 FROM casbin_rule WHERE ptype = 'g'"

_INSERT = f"""
WITH changed AS (
    INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', $1, $2, $3)
    ON CONFLICT DO NOTHING
    RETURNING v2
)
SELECT pg_notify('{CHANNEL}', v2)::text FROM changed
"""

_DELETE = f"""
WITH changed AS (
    DELETE FROM casbin_rule
    WHERE ptype = 'g' AND v0 = $1 AND v1 = $2 AND v2 = $3
        AND v3 = '' AND v4 = '' AND v5 = ''
    RETURNING v2
)
SELECT pg_notify('{CHANNEL}', v2)::text FROM changed
"""

_DELETE_MODEL = f"""
WITH changed AS (
    DELETE FROM casbin_rule WHERE ptype = 'g' AND v2 = $1 RETURNING v2
)
SELECT pg_notify('{CHANNEL}', $1)::text WHERE EXISTS (SELECT FROM changed)
"""


async def load_grants(conn: asyncpg.Connection) -> list[Grant]:
    """Every grant the g-lines of the table hold.

    A line outside the namespaces (written by hand, say) grants nothing: it is
    skipped with a warning rather than read as a bare name.
    """
    grants = []
    for row in await conn.fetch(_LOAD):
        try:
            grants.append(grant_of(*row))
        except UnknownTerm as exc:
            log.warning("casbin_rule line ignored", extra={"fields": {"error": str(exc)}})
    return grants


async def insert_grant(conn: asyncpg.Connection, grant: Grant) -> bool:
    """Add a g-line; False if it was already there (and then nothing is notified)."""
    return bool(await conn.fetch(_INSERT, *line_of(grant)))


async def delete_grant(conn: asyncpg.Connection, grant: Grant) -> bool:
    """Remove a g-line; False if it was not there."""
    return bool(await conn.fetch(_DELETE, *line_of(grant)))


async def delete_model_grants(conn: asyncpg.Connection, model: str) -> bool:
    """Remove every g-line of ``model``; False if it had none."""
    return bool(await conn.fetch(_DELETE_MODEL, model))


async def policy_version(conn: asyncpg.Connection) -> int | None:
    """The counter every change to casbin_rule moves (migration 0003), if present."""
    value = await conn.fetchval("SELECT version FROM policy_version")
    return None if value is None else int(value)


async def load_versioned_grants(conn: asyncpg.Connection) -> tuple[int, list[Grant]]:
    """Every g-line and the policy version they make up, read from one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        version = await policy_version(conn)
        grants = await load_grants(conn)
    return (-1 if version is None else version), grants
