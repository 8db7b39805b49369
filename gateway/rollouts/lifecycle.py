"""What happens to a rollout, said once for the service and the controller: its
figures read from Redis, and its promotion and rollback in the caller's transaction.

The caller holds the rollout's row (FOR UPDATE) and has named its actor for the
audit trigger; each change here is a row change the outbox records.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.registry import store as registry_store
from gateway.rollouts import store
from gateway.rollouts.store import RolloutRow
from rollouts.guardrails import Breach, Figures
from scheduler.connection import Client
from scheduler.stats import VersionWindow, version_window

CONTROLLER = "modelgw-rollouts"
"""The actor of the controller's changes, in the steps and the audit log."""


@dataclass(frozen=True)
class Windows:
    """Both versions' finished jobs since the rollout started."""

    baseline: VersionWindow
    candidate: VersionWindow

    def figures(self, breach: Breach | None = None) -> dict[str, Any]:
        """Both versions' figures (and the breach) as JSON values, for the record."""
        value: dict[str, Any] = {
            "baseline": Figures.of(self.baseline).as_dict(),
            "candidate": Figures.of(self.candidate).as_dict(),
        }
        if breach is not None:
            value["breach"] = breach.as_dict()
        return value


async def windows(redis: Client, row: RolloutRow) -> Windows:
    """The baseline's and the candidate's windows since the rollout's start."""
    since = row.start_time.timestamp()
    baseline, candidate = await asyncio.gather(
        version_window(redis, row.model, row.baseline, since=since),
        version_window(redis, row.model, row.candidate, since=since),
    )
    return Windows(baseline, candidate)


async def promote(
    conn: asyncpg.Connection, row: RolloutRow, *, actor: str, reason: str, figures: dict[str, Any]
) -> RolloutRow:
    """Makes the candidate the model's default version and ends the rollout promoted."""
    await registry_store.set_default_version(conn, row.model, row.candidate)
    return await store.end(
        conn, row, state=store.PROMOTED, actor=actor, reason=reason, figures=figures
    )


async def roll_back(
    conn: asyncpg.Connection, row: RolloutRow, *, actor: str, reason: str, figures: dict[str, Any]
) -> RolloutRow:
    """Ends the rollout rolled back: all traffic to the baseline, the default unchanged."""
    return await store.end(
        conn, row, state=store.ROLLED_BACK, actor=actor, reason=reason, figures=figures
    )
